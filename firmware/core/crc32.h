/* CRC-32 as zlib computes it (reflected polynomial 0xEDB88320). */
#ifndef RR_CRC32_H
#define RR_CRC32_H
#include <stddef.h>
#include <stdint.h>

/* crc32(0, data, n) equals Python's zlib.crc32(data); chain calls for streams. */
uint32_t rr_crc32(uint32_t crc, const uint8_t *data, size_t n);

#endif
