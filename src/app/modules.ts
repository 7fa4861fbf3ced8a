import { defaultConnectorRegistry } from './connectors.js';
import { consoleModule } from './features/console.js';
import { consoleAuthModule } from './features/console-auth.js';
import { icalModule } from './features/ical.js';
import { mappingModule } from './features/mapping.js';
import { privacyModule } from './features/privacy.js';
import { remindersModule } from './features/reminders.js';
import { reportsModule } from './features/reports.js';
import { syncModule } from './features/sync.js';
import { urgentModule } from './features/urgent.js';
import type { ServiceModule } from './service.js';

/**
 * The features `passerelle serve` runs. Each issue's feature (sync runtime, webhooks, iCal,
 * mapping API…) adds its module here.
 */
export function defaultModules(): ServiceModule[] {
  // Mapping first: its component loads every link's profile before the sync engine runs, and
  // the engine takes each practice's field ownership from its practice link's profile.
  const registry = defaultConnectorRegistry();
  const mapping = mappingModule({ registry });
  const sync = syncModule({ registry, ownership: mapping.ownership, plans: mapping.plansOf });
  return [
    mapping,
    sync,
    icalModule(),
    reportsModule({ sync }),
    privacyModule(),
    consoleModule(),
    consoleAuthModule(),
    urgentModule({ sync }),
    remindersModule({ sync }),
  ];
}
