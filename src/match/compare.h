/* String comparisons for record matching (Fellegi-Sunter comparison
 * levels): Jaro, Jaro-Winkler and Levenshtein distance, on bytes of
 * standardized text (run px_std_text first: comparisons are then
 * case- and accent-blind). See docs/internals/match.md. */
#ifndef PX_MATCH_COMPARE_H
#define PX_MATCH_COMPARE_H

#include <stddef.h>

/* Jaro similarity in [0, 1] (1: equal; two empty strings are equal). */
double px_match_jaro(const char *a, size_t an, const char *b, size_t bn);

/* Jaro-Winkler: Jaro raised for a common prefix (up to 4 bytes, scale 0.1)
 * when Jaro is at least 0.7, as Winkler defined it. */
double px_match_jaro_winkler(const char *a, size_t an, const char *b, size_t bn);

/* Levenshtein edit distance (insertions, deletions, substitutions), or
 * max + 1 as soon as it is known to exceed max: comparison levels only ask
 * "within 1? within 2?", and this keeps the work near (length x max). */
size_t px_match_levenshtein(const char *a, size_t an, const char *b, size_t bn, size_t max);

#endif
