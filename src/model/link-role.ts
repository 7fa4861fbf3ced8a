/** Which side of the practice a link speaks for: its own software, or the secretariat platform. */
export const LINK_ROLES = ['secretariat', 'practice'] as const;
export type LinkRole = (typeof LINK_ROLES)[number];
