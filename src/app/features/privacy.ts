/** The `privacy` service module: the RGPD routes (export and erase one patient). */
import { patientRoutes } from '../../api/routes/patients.js';
import type { ServiceModule } from '../service.js';

export function privacyModule(): ServiceModule {
  return { name: 'privacy', routes: (ctx) => patientRoutes({ store: ctx.store }) };
}
