/*
 * Member nodes (ENTSSO's SSO servers that are not the master secret
 * server): they hold no secret at rest. At start they find the active MSS
 * through cluster/mss in the SSO database and fetch the current and
 * previous secret from it over mutual TLS; a member that reaches no MSS
 * does not start. Then a thread checks every [cluster] refresh_s for a new
 * secret. While the MSS cannot be reached the member keeps decrypting with
 * the secret it holds but refuses to encrypt (sb_member_can_encrypt).
 */
#ifndef SB_MEMBER_H
#define SB_MEMBER_H

#include <stddef.h>

struct sb_daemon;
struct sb_generation;

/* Fetches the secret once (start). Returns 0, or -1 with msg. */
int sb_member_fetch_now(struct sb_daemon *d, struct sb_generation *g, char *msg,
			size_t msglen);
int sb_member_start(struct sb_daemon *d);
void sb_member_stop(struct sb_daemon *d);
/* Asks a member's check thread to fetch the secrets now rather than at its
 * next [cluster] refresh_s: a record sealed under a secret this node does
 * not hold means the MSS has rotated it. At most one early check a second;
 * safe from any thread, and a no-op where no check thread runs. */
void sb_member_check_soon(void);
/* 1 on an MSS node, or a member whose last check reached the MSS. */
int sb_member_can_encrypt(struct sb_daemon *d);

#endif
