import { icalModule } from '../ical/module.js';
import { mappingModule } from '../mapping/module.js';
import { privacyModule } from '../privacy/module.js';
import { reportsModule } from '../reports/module.js';
import { syncModule } from '../sync/module.js';
import { defaultConnectorRegistry } from '../sync/registry.js';
import type { ServiceModule } from './service.js';

/**
 * The features `passerelle serve` runs. Each issue's feature (sync runtime, webhooks, iCal,
 * mapping API…) adds its module here.
 */
export function defaultModules(): ServiceModule[] {
  // Mapping first: its component loads every link's profile before the sync engine runs, and
  // the engine takes each practice's field ownership from its practice link's profile.
  const mapping = mappingModule();
  return [mapping, syncModule({ registry: defaultConnectorRegistry(), ownership: mapping.ownership }), icalModule(), reportsModule(), privacyModule()];
}
