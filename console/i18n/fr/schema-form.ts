/** The form generated from a JSON Schema (console/components/schema-form.tsx). */
export const schemaForm = {
  obligatoire: '(obligatoire)',
  facultatif: '(facultatif)',
  secretAide: 'Secret : jamais affiché ni renvoyé. Laissez vide pour garder celui enregistré.',
  parDefaut: 'Par défaut : {valeur}.',
  entre: 'Entre {min} et {max}.',
  auMoins: 'Au moins {min}.',
  auPlus: 'Au plus {max}.',
  optionParDefaut: '— par défaut ({valeur}) —',
  optionAucune: '— aucune —',
  uneParLigne: 'Une valeur par ligne.',
  valeursPossibles: 'Valeurs possibles : {valeurs}.',
  json: 'En JSON.',
  jsonInvalide: 'JSON invalide : corrigez-le avant d’enregistrer.',
  enJson: 'Configuration (JSON)',
};
