/**
 * How much of a receiver's answer (an HTTP body, an SMTP reply) Herald keeps in an error message, and so in
 * `delivery.last_error`, the console and the API: a receiver is not trusted with what Herald stores, so its
 * text is cut to 200 bytes of UTF-8 and its control characters (newlines, escapes, NUL, bidi controls
 * included) become spaces. 200 bytes hold an HTTP problem title or a full SMTP reply line.
 */
export const MAX_ANSWER_BYTES = 200

// C0 and C1 controls, DEL, and the Unicode format controls that reorder or hide text (bidi, zero width).
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]+/g

/** The receiver's text as kept: controls removed, whitespace collapsed, at most 200 bytes (with `…` when cut). */
export function receiverAnswer(text: string): string {
  const flat = text.replace(CONTROLS, ' ').replace(/\s+/g, ' ').trim()
  const bytes = Buffer.from(flat, 'utf8')
  if (bytes.length <= MAX_ANSWER_BYTES) return flat
  // Cut on a character boundary, leaving room for the 3 bytes of '…'.
  const cut = bytes.subarray(0, MAX_ANSWER_BYTES - 3).toString('utf8').replace(/\ufffd+$/, '')
  return `${cut}…`
}
