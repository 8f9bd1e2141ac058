// Amounts as exact integers of crumbs (BigInt): 1 CHZ = 100,000,000 crumbs. No float arithmetic.

export const CRUMBS_PER_CHZ = 100000000n;
const AMOUNT_RE = /^(-)?(\d+)(?:\.(\d{1,8}))?$/;

// Parses "12.5", "0.00000001", "-1.00000000" (as the node prints them) into crumbs.
// Throws Error with a readable message for anything else.
export function toCrumbs(text) {
  const s = String(text).trim();
  const m = AMOUNT_RE.exec(s);
  if (!m) {
    if (/\.\d{9,}$/.test(s)) throw new Error('An amount has at most 8 decimals (1 crumb = 0.00000001 CHZ).');
    throw new Error(`"${s}" is not an amount: write it in CHZ, like 12.5`);
  }
  const whole = BigInt(m[2]);
  const frac = BigInt((m[3] || '').padEnd(8, '0'));
  const v = whole * CRUMBS_PER_CHZ + frac;
  return m[1] ? -v : v;
}

// 1250000000n -> "12.50000000"; with group=true thousands are separated: "1,234.50000000".
export function formatCrumbs(crumbs, group = true) {
  const neg = crumbs < 0n;
  const a = neg ? -crumbs : crumbs;
  let whole = (a / CRUMBS_PER_CHZ).toString();
  if (group) whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const frac = (a % CRUMBS_PER_CHZ).toString().padStart(8, '0');
  return `${neg ? '-' : ''}${whole}.${frac}`;
}

// A node amount (string after quoteDecimals, or a number for integers) to "12.50000000 CHZ".
export function chz(value) {
  if (value === null || value === undefined || value === '') return '—';
  return `${formatCrumbs(toCrumbs(String(value)))} CHZ`;
}

// The same without the unit, for table cells whose header names it.
export function chzNum(value) {
  if (value === null || value === undefined || value === '') return '—';
  return formatCrumbs(toCrumbs(String(value)));
}

// Validates what a person typed as an amount to send: positive, at most 8 decimals.
export function checkUserAmount(text, what = 'Amount') {
  const s = String(text).trim();
  if (s === '') throw new Error(`${what}: enter an amount in CHZ.`);
  if (s.startsWith('-')) throw new Error(`${what} cannot be negative.`);
  const v = toCrumbs(s);
  return v;
}
