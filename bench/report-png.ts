import zlib from 'node:zlib'

/**
 * A PNG of line charts, with no dependency: an RGB buffer drawn by hand, then encoded as PNG (signature,
 * IHDR, one zlib-compressed IDAT of filter-0 scanlines, IEND, each chunk with its CRC-32).
 */
export type Rgb = [number, number, number]

const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4)
  length.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body))
  return Buffer.concat([length, body, crc])
}

/** Encodes an 8-bit RGB image (`rgb.length === width * height * 3`). */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // colour type: RGB
  // compression, filter, interlace: 0
  const raw = Buffer.alloc((width * 3 + 1) * height)
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0 // filter: none
    Buffer.from(rgb.buffer, rgb.byteOffset + y * width * 3, width * 3).copy(raw, y * (width * 3 + 1) + 1)
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

/** A 3×5 pixel font for axis labels: digits and a few signs. */
const GLYPHS: Record<string, string> = {
  '0': '111101101101111', '1': '010110010010111', '2': '111001111100111', '3': '111001111001111', '4': '101101111001001',
  '5': '111100111001111', '6': '111100111101111', '7': '111001001001001', '8': '111101111101111', '9': '111101111001111',
  '.': '000000000000010', ' ': '000000000000000', '/': '001001010100100', 'm': '000000111111101', 's': '000011010001110',
  'k': '100101110101101', 'r': '000000110100100', 'q': '000011101011001', 'e': '000010111100011', 'p': '000110101110100',
  'l': '100100100100011', 'a': '000011101101011', 't': '010111010010011', 'n': '000110101101101', 'c': '000011100100011',
  'y': '000101101011110', 'h': '100100110101101', 'u': '000101101101011', 'o': '000010101101010', 'g': '000011101011110',
  'i': '010000010010010', 'b': '100100110101110', 'd': '001001011101011', 'v': '000101101101010', 'w': '000101101111111',
  'f': '011100110100100', 'x': '000101010101101', 'j': '001000001001110', 'z': '000111001100111', '(': '001010010010001', ')': '100010010010100', ',': '000000000010100', '-': '000000111000000',
}

export class Canvas {
  readonly rgb: Uint8Array

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    this.rgb = new Uint8Array(width * height * 3)
    for (let i = 0; i < width * height; i++) this.rgb.set(background, i * 3)
  }

  pixel(x: number, y: number, color: Rgb): void {
    x = Math.round(x)
    y = Math.round(y)
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return
    this.rgb.set(color, (y * this.width + x) * 3)
  }

  /** Bresenham, `thickness` pixels wide. */
  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, thickness = 1): void {
    x0 = Math.round(x0); y0 = Math.round(y0); x1 = Math.round(x1); y1 = Math.round(y1)
    const dx = Math.abs(x1 - x0)
    const dy = -Math.abs(y1 - y0)
    const sx = x0 < x1 ? 1 : -1
    const sy = y0 < y1 ? 1 : -1
    let err = dx + dy
    for (;;) {
      for (let t = 0; t < thickness; t++) {
        this.pixel(x0, y0 + t, color)
        this.pixel(x0 + t, y0, color)
      }
      if (x0 === x1 && y0 === y1) break
      const e2 = 2 * err
      if (e2 >= dy) { err += dy; x0 += sx }
      if (e2 <= dx) { err += dx; y0 += sy }
    }
  }

  text(x: number, y: number, s: string, color: Rgb, scale = 2): void {
    for (const ch of s.toLowerCase()) {
      const glyph = GLYPHS[ch] ?? GLYPHS[' ']
      for (let i = 0; i < 15; i++) {
        if (glyph[i] !== '1') continue
        for (let a = 0; a < scale; a++) for (let b = 0; b < scale; b++) this.pixel(x + (i % 3) * scale + a, y + Math.floor(i / 3) * scale + b, color)
      }
      x += 4 * scale
    }
  }

  png(): Buffer {
    return encodePng(this.width, this.height, this.rgb)
  }
}

export interface Series {
  label: string
  color: Rgb
  points: [number, number][]
}

const fmt = (v: number) => (v >= 10_000 ? `${Math.round(v / 1000)}k` : v >= 100 ? String(Math.round(v)) : v.toFixed(1))

/** One chart panel: axes, a few grid lines with labels (max, half), series as lines; x in seconds. */
export function drawPanel(canvas: Canvas, box: { x: number; y: number; w: number; h: number }, title: string, series: Series[]): void {
  const all = series.flatMap((s) => s.points)
  const xMax = Math.max(1e-9, ...all.map((p) => p[0]))
  const yMax = Math.max(1e-9, ...all.map((p) => p[1])) * 1.1
  const left = box.x + 50
  const bottom = box.y + box.h - 20
  const w = box.w - 60
  const h = box.h - 40
  const grey: Rgb = [220, 220, 220]
  const black: Rgb = [0, 0, 0]
  for (const f of [0.25, 0.5, 0.75, 1]) {
    canvas.line(left, bottom - f * h, left + w, bottom - f * h, grey)
    canvas.text(box.x, bottom - f * h - 5, fmt(yMax * f), black)
  }
  canvas.line(left, bottom, left + w, bottom, black, 2)
  canvas.line(left, bottom, left, bottom - h, black, 2)
  for (const f of [0, 0.5, 1]) canvas.text(left + f * w - 10, bottom + 6, `${fmt(xMax * f)}s`, black)
  canvas.text(left + 10, box.y + 2, title, black)
  series.forEach((s, i) => {
    canvas.text(left + w - 150, box.y + 2 + i * 14, s.label, s.color)
    for (let k = 1; k < s.points.length; k++) {
      const [xa, ya] = s.points[k - 1]
      const [xb, yb] = s.points[k]
      canvas.line(left + (xa / xMax) * w, bottom - (ya / yMax) * h, left + (xb / xMax) * w, bottom - (yb / yMax) * h, s.color, 2)
    }
  })
}
