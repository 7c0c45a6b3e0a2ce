/*
 * Duplicate keys in the INI file. iniparser keeps the last of two values
 * for one key without a word, so an operator who adds "plugin = postgres"
 * below an old "plugin = sqlite" in the same section never learns which
 * one runs. The config loader refuses such a file instead.
 */
#ifndef SB_INI_DUPS_H
#define SB_INI_DUPS_H

#include "runtime/config.h"

#include <stddef.h>

/* Reads the INI file at path the way iniparser does (sections and keys
 * case-insensitive, ';' and '#' comments, '\' continuation lines, a
 * section may appear more than once and its keys then merge) and adds one
 * error to errs for every key set a second time in one section: "FILE:12:
 * [storage] path: set twice (first on line 5)". Returns how many it
 * found; a file it cannot read adds nothing (the loader reports that). */
size_t sb_ini_find_duplicates(const char *path, struct sb_errlist *errs);

#endif
