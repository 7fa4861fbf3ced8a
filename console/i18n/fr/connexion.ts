export const connexion = {
  titre: 'Connexion',
  intro: 'Connectez-vous avec une clé d’API de passerelle ou avec votre fournisseur d’identité.',
  cle: 'Clé d’API',
  cleAide: 'Commence par « psk_ ». Elle n’est pas conservée par le navigateur.',
  seConnecter: 'Se connecter',
  avecOidc: 'Se connecter avec {fournisseur}',
  ou: 'ou',
  refusee: 'Clé refusée : vérifiez-la, ou demandez-en une nouvelle à votre administrateur.',
  tropDEssais: 'Trop d’essais : réessayez dans quelques minutes.',
  oidcRefuse: 'La connexion par votre fournisseur d’identité a été refusée ({code}).',
};
