/* Consistent Overhead Byte Stuffing: frames contain no 0x00, which delimits them. */
#ifndef RR_COBS_H
#define RR_COBS_H
#include <stddef.h>
#include <stdint.h>

/* Worst-case encoded size of n bytes (without the 0x00 delimiter). */
#define RR_COBS_MAX_ENCODED(n) ((n) + (n) / 254 + 1)

/* Encode n bytes into dst (capacity cap); returns the encoded length or -1. */
long rr_cobs_encode(const uint8_t *src, size_t n, uint8_t *dst, size_t cap);
/* Decode n bytes (no delimiter) into dst; returns the decoded length or -1 if malformed. */
long rr_cobs_decode(const uint8_t *src, size_t n, uint8_t *dst, size_t cap);

#endif
