/*
 * What the libFuzzer harnesses of tests/fuzz share: a private temporary
 * directory, files written into it, and the real openssl crypto plugin
 * loaded through the daemon's own loader. Every harness defines
 * LLVMFuzzerTestOneInput (and may define LLVMFuzzerInitialize); linked
 * with -fsanitize=fuzzer it is a fuzzer, linked with replay_main.c it
 * replays files (the corpus and the regressions) in the normal builds.
 *
 * A broken invariant ends the process with fuzz_fail, so libFuzzer keeps
 * the input as a crash.
 */
#ifndef SB_FUZZ_COMMON_H
#define SB_FUZZ_COMMON_H

#include <secretbroker/plugin.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints "fuzz: " and the message to stderr and aborts. */
void fuzz_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* Makes a fresh 0700 directory under $TMPDIR (or /tmp) named after tag,
 * removed with everything in it when the process exits normally. Returns
 * its path (static storage); aborts on error. */
const char *fuzz_tmpdir(const char *tag);

/* Replaces path with data[0..len), mode 0600. Aborts on error. */
void fuzz_write_file(const char *path, const uint8_t *data, size_t len);

/* Loads crypto_openssl.so from SB_PLUGIN_BUILD_DIR and opens an instance
 * on a private state directory. Returns the plugin's ops and sets *inst;
 * aborts on error. Both live until the process exits. */
const struct sb_crypto_ops *fuzz_crypto_open(void **inst);

#endif
