/**
 * Fictitious patients shaped like a French general practice's patient file, for the load
 * benchmark (issue 22 point 3): family names, given names and birth dates drawn from
 * distributions close to published French figures, so that patient matching meets about the
 * lookalikes (same family name + birth date + sex) a real file holds — not the 63 % of
 * `generatePatients`, whose family names all normalise to FICTIF.
 *
 * Sources and model (approximations, stated so the collision rate can be judged):
 * - Family names: INSEE's *fichier des noms* (births 1891–1990) has ~1.3–1.5 million distinct
 *   names, half of them borne by fewer than 10 people; MARTIN, the most frequent, by ~230,000
 *   people born 1891–1990, about 0.32–0.36 % of the population; the next ones (BERNARD, THOMAS,
 *   PETIT, ROBERT, RICHARD, DURAND, DUBOIS) by over 100,000 each (Filaé, "Les noms de famille
 *   les plus fréquents", filae.com/ressources/les-noms-de-famille-les-plus-frequents; INSEE
 *   figures as reported by Yahoo/Le Parisien, 2024). Model: the 100 most frequent names below,
 *   rank r with share 0.36 % · r^-0.35 (MARTIN 0.36 %, rank 8 ≈ 0.17 %, rank 100 ≈ 0.07 %:
 *   together ≈ 11 %); the other ≈ 89 % from a tail of 1.4 million synthetic names, rank r ≥ 101
 *   with a share ∝ 1/r (Zipf), which continues the head at rank 100.
 * - Given names: frequent French given names of the birth cohorts of a GP's list (INSEE *fichier
 *   des prénoms*, 1900–2019); they are not part of the match key, so only realism depends on them.
 * - Birth dates: the age pyramid of a GP's patient list (INSEE population by age, 2023, with
 *   fewer young adults and more over-60s, who consult more): share per 10-year band below, a
 *   uniform day within the band; ages from the reference date 2026-01-01.
 * - Twins: ~1.7 % of deliveries in France are multiple (INSEE/INED, état civil, 2010–2020), i.e.
 *   ~3.4 % of children are twins; about half of both twins being on the same GP's list gives
 *   1.5 % of patients generated as the twin of the one before (same family name, same birth
 *   date, the same sex two times out of three: monozygotic ≈ 1/3 of twin pairs, and half of the
 *   others).
 * Everything is a pure function of the patient's index (a seeded generator per index), so any
 * slice of a population can be generated alone and the bench can count its collisions.
 */
import type { Patient } from '@medplum/fhirtypes';

import { IDENTITY_RELIABILITY_SYSTEM, IDENTITY_RELIABILITY_URL } from '../../../src/model/identifiers.js';
import { prng } from './prng.js';
import { DEMO_IPP_SYSTEM } from './seed.js';

/** The 100 most frequent French family names, most frequent first (INSEE fichier des noms, 1891–1990). */
// prettier-ignore
const TOP_FAMILY_NAMES = [
  'MARTIN', 'BERNARD', 'THOMAS', 'PETIT', 'ROBERT', 'RICHARD', 'DURAND', 'DUBOIS', 'MOREAU', 'LAURENT',
  'SIMON', 'MICHEL', 'LEFEBVRE', 'LEROY', 'ROUX', 'DAVID', 'BERTRAND', 'MOREL', 'FOURNIER', 'GIRARD',
  'BONNET', 'DUPONT', 'LAMBERT', 'FONTAINE', 'ROUSSEAU', 'VINCENT', 'MULLER', 'LEFÈVRE', 'FAURE', 'ANDRÉ',
  'MERCIER', 'BLANC', 'GUÉRIN', 'BOYER', 'GARNIER', 'CHEVALIER', 'FRANÇOIS', 'LEGRAND', 'GAUTHIER', 'GARCIA',
  'PERRIN', 'ROBIN', 'CLÉMENT', 'MORIN', 'NICOLAS', 'HENRY', 'ROUSSEL', 'MATHIEU', 'GAUTIER', 'MASSON',
  'MARCHAND', 'DUVAL', 'DENIS', 'DUMONT', 'MARIE', 'LEMAIRE', 'NOËL', 'MEYER', 'DUFOUR', 'MEUNIER',
  'BRUN', 'BLANCHARD', 'GIRAUD', 'JOLY', 'RIVIÈRE', 'LUCAS', 'BRUNET', 'GAILLARD', 'BARBIER', 'ARNAUD',
  'MARTINEZ', 'GÉRARD', 'ROCHE', 'RENARD', 'SCHMITT', 'ROY', 'LEROUX', 'COLIN', 'VIDAL', 'CARON',
  'PICARD', 'ROGER', 'FABRE', 'AUBERT', 'LEMOINE', 'RENAUD', 'DUMAS', 'LACROIX', 'OLIVIER', 'PHILIPPE',
  'BOURGEOIS', 'PIERRE', 'BENOIT', 'REY', 'LECLERC', 'PAYET', 'ROLLAND', 'LECLERCQ', 'GUILLAUME', 'LECOMTE',
] as const;

// prettier-ignore
const FEMALE_GIVEN = [
  'Marie', 'Jeanne', 'Françoise', 'Monique', 'Catherine', 'Nathalie', 'Isabelle', 'Sylvie', 'Anne', 'Christine',
  'Martine', 'Nicole', 'Sandrine', 'Valérie', 'Stéphanie', 'Céline', 'Julie', 'Camille', 'Léa', 'Manon',
  'Chloé', 'Emma', 'Inès', 'Sarah', 'Louise', 'Jade', 'Lucie', 'Élodie', 'Aurélie', 'Hélène',
] as const;
// prettier-ignore
const MALE_GIVEN = [
  'Jean', 'Pierre', 'Michel', 'André', 'Philippe', 'Alain', 'Bernard', 'Jacques', 'Patrick', 'Daniel',
  'Christophe', 'Nicolas', 'Stéphane', 'Laurent', 'David', 'Sébastien', 'Julien', 'Thomas', 'Kevin', 'Lucas',
  'Hugo', 'Théo', 'Nathan', 'Louis', 'Gabriel', 'Léo', 'Arthur', 'Maxime', 'Alexandre', 'Antoine',
] as const;

/** Share of a GP's patient list per 10-year age band (0–9, 10–19, … 90–104). */
const AGE_BANDS = [0.1, 0.11, 0.1, 0.12, 0.13, 0.14, 0.13, 0.11, 0.05, 0.01] as const;
const REFERENCE = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;
const TWIN_SHARE = 0.015;
const HEAD_SHARE_1 = 0.0036;
const HEAD_EXPONENT = 0.35;
const TAIL_FIRST = 101;
const TAIL_LAST = 1_400_000;

const headShares = TOP_FAMILY_NAMES.map((_, r) => HEAD_SHARE_1 * (r + 1) ** -HEAD_EXPONENT);
const HEAD_TOTAL = headShares.reduce((a, b) => a + b, 0);
const headCumulative = headShares.reduce<number[]>((acc, s) => [...acc, (acc.at(-1) ?? 0) + s], []);
const ageCumulative = AGE_BANDS.reduce<number[]>((acc, s) => [...acc, (acc.at(-1) ?? 0) + s], []);

// prettier-ignore
const SYLLABLES = ['BA', 'DE', 'LI', 'RO', 'MU', 'VAN', 'TER', 'GOU', 'CHA', 'NEL', 'PER', 'SAU', 'QUI', 'MON', 'FAL', 'DRE'];

/** A synthetic tail name of rank r: letters only (the match key keeps letters only), one per rank. */
function tailName(rank: number): string {
  let name = '';
  let n = rank;
  do {
    name += SYLLABLES[n % SYLLABLES.length] as string;
    n = Math.floor(n / SYLLABLES.length);
  } while (n > 0);
  return name;
}

function familyName(u: number): string {
  if (u < HEAD_TOTAL) {
    const i = headCumulative.findIndex((c) => u < c);
    return TOP_FAMILY_NAMES[i < 0 ? TOP_FAMILY_NAMES.length - 1 : i] as string;
  }
  // Inverse of the continuous 1/r law between TAIL_FIRST and TAIL_LAST.
  const v = (u - HEAD_TOTAL) / (1 - HEAD_TOTAL);
  return tailName(Math.floor(TAIL_FIRST * (TAIL_LAST / TAIL_FIRST) ** v));
}

function birthDate(u: number, v: number): string {
  let band = ageCumulative.findIndex((c) => u < c);
  if (band < 0) band = AGE_BANDS.length - 1;
  const years = band * 10 + v * (band === AGE_BANDS.length - 1 ? 15 : 10);
  return new Date(REFERENCE - Math.floor(years * 365.25) * DAY - DAY).toISOString().slice(0, 10);
}

interface Core {
  readonly family: string;
  readonly birthDate: string;
  readonly female: boolean;
  readonly twin: boolean;
}

function coreOf(i: number, depth = 0): Core {
  const rnd = prng(i * 2_654_435_761);
  const twinDraw = rnd();
  if (depth < 2 && i > 1 && twinDraw < TWIN_SHARE) {
    const sibling = coreOf(i - 1, depth + 1);
    // Same sex two times out of three (monozygotic, or dizygotic of the same sex).
    const female = rnd() < 2 / 3 ? sibling.female : !sibling.female;
    return { family: sibling.family, birthDate: sibling.birthDate, female, twin: true };
  }
  const family = familyName(rnd());
  const date = birthDate(rnd(), rnd());
  return { family, birthDate: date, female: rnd() < 0.52, twin: false };
}

/** Whether patient `i` of the population was generated as the twin of patient `i − 1`. */
export function isGeneratedTwin(i: number): boolean {
  return coreOf(i).twin;
}

/**
 * `count` patients from index `start` (ids `pat-<index>`, an IPP, no INS, identity
 * provisional): French family and given names, birth dates of a GP's list, twins. Deterministic.
 */
export function generatePracticePatients(count: number, start = 1): Patient[] {
  const out: Patient[] = [];
  for (let i = start; i < start + count; i++) {
    const n = String(i).padStart(6, '0');
    const core = coreOf(i);
    const rnd = prng(i * 40_503 + 7);
    const given = core.female ? FEMALE_GIVEN : MALE_GIVEN;
    out.push({
      resourceType: 'Patient',
      id: `pat-${n}`,
      identifier: [{ use: 'usual', system: DEMO_IPP_SYSTEM, value: `IPP${n}` }],
      name: [
        {
          use: 'official',
          family: core.family,
          given: [given[Math.floor(rnd() * given.length)] as string],
        },
      ],
      gender: core.female ? 'female' : 'male',
      birthDate: core.birthDate,
      extension: [
        {
          url: IDENTITY_RELIABILITY_URL,
          extension: [
            { url: 'identityStatus', valueCoding: { system: IDENTITY_RELIABILITY_SYSTEM, code: 'PROV' } },
          ],
        },
      ],
    });
  }
  return out;
}
