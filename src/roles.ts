/** What one `herald start` process runs; every role by default. */
export const ROLES = ['notifier', 'catalog', 'http'] as const
export type Role = (typeof ROLES)[number]
