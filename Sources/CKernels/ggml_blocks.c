// Reading ggml's Q5_0, Q4_K and Q6_K blocks element by element (for repacking into panels and
// for dequantizing), as ggml's reference code lays them out:
// - Q5_0 (22 bytes / 32): d f16 | qh u32 (fifth bits) | qs[16] (element j low nibble of
//   byte j, element j + 16 high nibble).
// - Q4_K (144 bytes / 256): d f16 | dmin f16 | scales[12] (8 × 6-bit scale and minimum) |
//   qs[128]: 64 elements per 32 bytes, the first 32 in low nibbles, the next 32 in high ones.
// - Q6_K (210 bytes / 256): ql[128] | qh[64] | scales[16] i8 | d f16; two halves of 128,
//   each of four groups of 32 (see tk_ggml_quant).
#include "internal.h"

/// Q4_K's 6-bit scale and minimum of sub-block j (0..7), as ggml packs them in 12 bytes.
static void q4_k_scale_min(const uint8_t *scales, int j, int *scale, int *minimum) {
  if (j < 4) {
    *scale = scales[j] & 63;
    *minimum = scales[j + 4] & 63;
  } else {
    *scale = (scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4);
    *minimum = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
  }
}

int tk_ggml_quant(int type, const uint8_t *row, int e) {
  switch (type) {
  case TK_TYPE_Q5_0: {
    const uint8_t *block = row + (size_t)(e / 32) * 22;
    const int j = e % 32;
    uint32_t qh;
    memcpy(&qh, block + 2, 4);
    const int low = j < 16 ? block[6 + j] & 0xF : block[6 + j - 16] >> 4;
    return low | (int)((qh >> j) & 1) << 4;
  }
  case TK_TYPE_Q4_K: {
    const uint8_t *qs = row + (size_t)(e / 256) * 144 + 16;
    const int within = e % 256, chunk = within / 64, at = within % 64;
    return at < 32 ? qs[32 * chunk + at] & 0xF : qs[32 * chunk + at - 32] >> 4;
  }
  case TK_TYPE_Q6_K: {
    const uint8_t *block = row + (size_t)(e / 256) * 210;
    const int within = e % 256, half = within / 128, group = (within % 128) / 32, l = within % 32;
    const uint8_t low_byte = block[64 * half + l + ((group & 1) ? 32 : 0)];
    const int low = group < 2 ? low_byte & 0xF : low_byte >> 4;
    const int high = (block[128 + 32 * half + l] >> (2 * group)) & 3;
    return low | high << 4;
  }
  default: return 0;
  }
}

void tk_ggml_block_scales(int type, const uint8_t *row, int block, uint16_t *d, uint16_t *dmin,
                          int *first, int *second) {
  *dmin = 0;
  *first = 0;
  *second = 0;
  switch (type) {
  case TK_TYPE_Q5_0: *d = tk_load_u16(row + (size_t)block * 22); break;
  case TK_TYPE_Q4_K: {
    const uint8_t *super = row + (size_t)(block / 8) * 144;
    *d = tk_load_u16(super);
    *dmin = tk_load_u16(super + 2);
    q4_k_scale_min(super + 4, block % 8, first, second);
    break;
  }
  case TK_TYPE_Q6_K: {
    const uint8_t *super = row + (size_t)(block / 8) * 210;
    *d = tk_load_u16(super + 208);
    *first = (int8_t)super[192 + 2 * (block % 8)];
    *second = (int8_t)super[192 + 2 * (block % 8) + 1];
    break;
  }
  default: *d = 0;
  }
}

void tk_ggml_dequantize_blocks(int type, const uint8_t *row, int n, float *out) {
  for (int i = 0; i < n / 32; i++) {
    uint16_t d16, dmin16;
    int first, second;
    tk_ggml_block_scales(type, row, i, &d16, &dmin16, &first, &second);
    const float d = tk_f16_to_f32(d16);
    for (int j = 0; j < 32; j++) {
      const int q = tk_ggml_quant(type, row, 32 * i + j);
      float value;
      switch (type) {
      case TK_TYPE_Q5_0: value = (float)(q - 16) * d; break;
      // ggml: d1 = d·scale, m1 = dmin·min, d1·q − m1.
      case TK_TYPE_Q4_K:
        value = d * (float)first * (float)q - tk_f16_to_f32(dmin16) * (float)second;
        break;
      // ggml: d·scale·(q − 32), left to right.
      default: value = d * (float)(j < 16 ? first : second) * (float)(q - 32); break;
      }
      out[32 * i + j] = value;
    }
  }
}
