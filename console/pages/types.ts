/** What a page receives and how the page list describes it (kept apart so pages never import the list). */
import type { FunctionComponent } from 'preact';

import type { MessageKey } from '../i18n/index.js';
import type { Role } from '../session.js';

export interface PageProps {
  readonly params: Readonly<Record<string, string>>;
  readonly search: URLSearchParams;
}

export interface PageDef {
  /** Under /console: `/liaisons/:id`. */
  readonly path: string;
  readonly title: MessageKey;
  readonly role: Role;
  readonly nav: boolean;
  readonly component: FunctionComponent<PageProps>;
}
