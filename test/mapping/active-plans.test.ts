/**
 * The one plan cache (src/mapping/active-plans.ts) on a real SQLite store: what running links
 * read (FHIR pages, HL7 messages, the engine's ownership), reloaded when a link's profile changes
 * in this process, keeping the running plan when the store cannot be read.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { defaultConnectorRegistry } from '../../src/app/connectors.js';
import { PasserelleError } from '../../src/errors.js';
import { ActivePlans } from '../../src/mapping/active-plans.js';
import { notifyMappingChange, planFromText, shippedProfileText } from '../../src/mapping/runtime.js';
import { openTestStore, type TestStore } from '../helpers/stores.js';
import { until } from '../helpers/until.js';

const profiles = defaultConnectorRegistry().profiles();

describe('the plan cache', () => {
  let t: TestStore;
  let plans: ActivePlans;
  let hl7: string;
  let secretariat: string;

  beforeEach(async () => {
    t = await openTestStore('sqlite');
    const practice = await t.store.practices.create({ name: 'Cabinet', timezone: 'America/Martinique' });
    hl7 = (
      await t.store.links.create({
        practiceId: practice.id,
        role: 'practice',
        connector: 'hl7v2',
        name: 'Logiciel',
        isTest: true,
      })
    ).id;
    secretariat = (
      await t.store.links.create({
        practiceId: practice.id,
        role: 'secretariat',
        connector: 'secretariat',
        name: 'Secrétariat',
      })
    ).id;
    plans = new ActivePlans(t.store, profiles, { refreshMs: 0 });
  });
  afterEach(async () => {
    await plans.stop();
    await t.dispose();
  });

  const put = async (name: string) => {
    const yaml = shippedProfileText('hl7v2-ihe-pam-fr').replace('name: hl7v2-ihe-pam-fr', `name: ${name}`);
    const plan = planFromText(yaml, 'test');
    return t.store.mappingProfiles.add({ linkId: hl7, name, yaml, hash: plan.hash });
  };

  it('loads every link that takes a profile, with its context, and only those', async () => {
    await plans.start();
    expect(plans.current(hl7)).toMatchObject({
      source: 'shipped',
      version: null,
      plan: { name: 'hl7v2-ihe-pam-fr' },
      context: { timezone: 'America/Martinique', testLink: true },
    });
    expect(plans.current(secretariat)).toBeUndefined();
    await expect(plans.get(secretariat)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });

  it('reaches running links when a profile change is notified, without a read per use', async () => {
    await plans.start();
    const v = await put('logiciel-x');
    // Not read again until told: the cache, not the store, answers.
    expect((await plans.get(hl7)).plan.name).toBe('hl7v2-ihe-pam-fr');
    notifyMappingChange({ linkId: hl7, version: v.version, hash: v.hash });
    await until('the new plan', () => (plans.current(hl7)?.plan.name === 'logiciel-x' ? true : undefined));
    expect(await plans.get(hl7)).toMatchObject({ source: 'custom', version: 1 });
  });

  it('keeps the running plan when a reload fails because the store is unreachable, and takes the new one when it succeeds', async () => {
    await plans.start();
    await put('logiciel-x');
    const links = t.store.links;
    const require = links.require.bind(links);
    links.require = async () => {
      throw new PasserelleError('ERR_STORE_UNAVAILABLE', 'store down', { retryable: true });
    };
    try {
      await expect(plans.reload(hl7)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
      expect(plans.current(hl7)?.plan.name).toBe('hl7v2-ihe-pam-fr');
    } finally {
      links.require = require;
    }
    expect((await plans.reload(hl7)).plan.name).toBe('logiciel-x');
    expect(plans.current(hl7)?.plan.name).toBe('logiciel-x');
  });

  it("answers ownership from the loaded plan, else from the link's shipped profile", async () => {
    const link = await t.store.links.require(hl7);
    expect(plans.current(hl7)).toBeUndefined();
    expect(plans.ownership(link)).toEqual(
      planFromText(shippedProfileText('hl7v2-ihe-pam-fr'), 'x').ownership,
    );
    expect(plans.ownership(await t.store.links.require(secretariat))).toBeUndefined();
  });
});
