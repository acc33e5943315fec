//! What a page says, in the languages senders write: that the address was removed (strong),
//! that preferences were saved (counts only after the agent changed them), and what a control does.

use crate::domain::unsubscribe_links::mentions_unsubscribe;

/// Past-tense confirmations that the address is off the list.
const CONFIRMED: &[&str] = &[
    "you have been unsubscribed",
    "you've been unsubscribed",
    "you are now unsubscribed",
    "you're unsubscribed",
    "successfully unsubscribed",
    "unsubscribed successfully",
    "you have unsubscribed",
    "unsubscribe successful",
    "unsubscription confirmed",
    "has been unsubscribed",
    "have been removed from",
    "has been removed from",
    "you will no longer receive",
    "you won't receive any more",
    "erfolgreich abgemeldet",
    "wurden abgemeldet",
    "sind jetzt abgemeldet",
    "wurde abgemeldet",
    "wurde ausgetragen",
    "erfolgreich ausgetragen",
    "abmeldung war erfolgreich",
    "abmeldung bestätigt",
    "keine weiteren e-mails",
    "te has dado de baja",
    "se ha dado de baja",
    "has sido dado de baja",
    "ha sido dado de baja",
    "dado de baja correctamente",
    "baja confirmada",
    "baja se ha completado",
    "ya no recibirás",
    "ya no recibirá",
    "vous êtes désinscrit",
    "vous avez été désinscrit",
    "vous avez été désabonné",
    "désinscription confirmée",
    "désinscription réussie",
    "ne recevrez plus",
    "sei stato disiscritto",
    "disiscrizione completata",
    "disiscrizione confermata",
    "non riceverai più",
    "descadastrado com sucesso",
    "você foi descadastrado",
    "não receberá mais",
    "inscrição cancelada",
    "je bent uitgeschreven",
    "u bent uitgeschreven",
    "succesvol afgemeld",
    "uitschrijving bevestigd",
];

/// Confirmations that preferences were stored: a success only when the agent changed them.
const SAVED: &[&str] = &[
    "preferences have been updated",
    "preferences have been saved",
    "preferences were saved",
    "preferences updated",
    "preferences saved",
    "settings have been saved",
    "einstellungen wurden gespeichert",
    "einstellungen gespeichert",
    "preferencias guardadas",
    "preferencias se han guardado",
    "préférences ont été enregistrées",
    "preferenze salvate",
];

/// Controls never pressed: they keep the subscription or lead elsewhere.
const NEGATIVE: &[&str] = &[
    "stay subscribed",
    "keep me",
    "keep my",
    "remain subscribed",
    "resubscribe",
    "re-subscribe",
    "subscribe again",
    "cancel",
    "no,",
    "no thanks",
    "go back",
    "back to",
    "sign in",
    "log in",
    "login",
    "register",
    "abbrechen",
    "zurück",
    "anmelden",
    "weiterhin",
    "cancelar",
    "volver",
    "seguir suscrito",
    "annuler",
    "retour",
    "rester abonné",
    "annulla",
    "indietro",
];

const CONFIRM: &[&str] = &[
    "confirm",
    "yes",
    "i'm sure",
    "i am sure",
    "proceed",
    "bestätigen",
    "ja,",
    "ja ",
    "confirmar",
    "sí",
    "si,",
    "confirmer",
    "oui",
    "conferma",
    "confirmo",
    "bevestig",
];

const SAVE: &[&str] = &[
    "save",
    "update",
    "submit",
    "apply",
    "speichern",
    "aktualisieren",
    "übernehmen",
    "guardar",
    "actualizar",
    "enviar",
    "enregistrer",
    "mettre à jour",
    "salva",
    "aggiorna",
    "opslaan",
    "salvar",
];

/// Lists "from all" choices are named with.
const FROM_ALL: &[&str] = &[
    "unsubscribe from all",
    "unsubscribe me from all",
    "opt out of all",
    "all emails",
    "all mailings",
    "alle abbestellen",
    "von allen",
    "alle newsletter",
    "de todas",
    "de todos",
    "de tous",
    "da tutte",
];

/// The sentence of `text` that confirms the address was removed, if any.
pub fn confirmation(text: &str) -> Option<String> {
    find_sentence(text, CONFIRMED)
}

/// The sentence confirming saved preferences, if any.
pub fn saved(text: &str) -> Option<String> {
    find_sentence(text, SAVED)
}

fn find_sentence(text: &str, phrases: &[&str]) -> Option<String> {
    let lower = text.to_lowercase();
    if lower.len() != text.len() {
        // Lower-casing changed byte offsets (rare scripts); report the phrase itself.
        return phrases.iter().find(|p| lower.contains(*p)).map(|p| (*p).to_owned());
    }
    let at = phrases.iter().filter_map(|p| lower.find(p)).min()?;
    let start = text[..at].rfind(['.', '!', '\n']).map_or(0, |n| n + 1);
    let end = text[at..].find(['.', '!', '\n']).map_or(text.len(), |n| at + n + 1);
    let sentence: String = text[start..end].split_whitespace().collect::<Vec<_>>().join(" ");
    Some(sentence.chars().take(200).collect())
}

/// What pressing a control would do, best first; `None` for controls never pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Intent {
    Save = 1,
    Confirm = 2,
    Unsubscribe = 3,
}

pub fn intent(label: &str) -> Option<Intent> {
    let lower = label.to_lowercase();
    if NEGATIVE.iter().any(|n| lower.contains(n)) {
        return None;
    }
    if mentions_unsubscribe(&lower) {
        Some(Intent::Unsubscribe)
    } else if CONFIRM.iter().any(|c| lower.contains(c)) {
        Some(Intent::Confirm)
    } else if SAVE.iter().any(|s| lower.contains(s)) {
        Some(Intent::Save)
    } else {
        None
    }
}

pub fn is_from_all(label: &str) -> bool {
    let lower = label.to_lowercase();
    FROM_ALL.iter().any(|p| lower.contains(p))
}

/// Buttons that close a cookie banner, the least-consenting first.
pub fn banner_choice_rank(label: &str) -> Option<u8> {
    let lower = label.to_lowercase();
    let reject = [
        "reject",
        "decline",
        "necessary only",
        "only necessary",
        "ablehnen",
        "nur notwendige",
        "rechazar",
        "refuser",
        "rifiuta",
    ];
    let accept = [
        "accept",
        "agree",
        "allow",
        "got it",
        "ok",
        "akzeptieren",
        "zustimmen",
        "einverstanden",
        "aceptar",
        "accepter",
        "accetta",
        "close",
        "schließen",
        "cerrar",
        "fermer",
    ];
    if reject.iter().any(|w| lower.contains(w)) {
        Some(0)
    } else if accept.iter().any(|w| lower.contains(w)) {
        Some(1)
    } else {
        None
    }
}

/// Words that name an email address field.
pub fn is_email_field(name: &str, kind: &str) -> bool {
    let lower = name.to_lowercase();
    kind == "email"
        || ["email", "e-mail", "mail address", "correo", "courriel", "adresse"].iter().any(|w| lower.contains(w))
}

/// Fields never filled, whatever they are called.
pub fn is_secret_field(name: &str, kind: &str, autocomplete: &str) -> bool {
    let lower = format!("{name} {autocomplete}").to_lowercase();
    kind == "password"
        || [
            "password",
            "passwort",
            "contraseña",
            "card",
            "cc-",
            "cvv",
            "cvc",
            "iban",
            "expiry",
            "billing",
            "payment",
            "tarjeta",
            "karte",
        ]
        .iter()
        .any(|w| lower.contains(w))
}

/// Text that shows a sign-in wall.
pub fn asks_to_sign_in(text: &str) -> bool {
    let lower = text.to_lowercase();
    [
        "sign in to",
        "log in to",
        "please log in",
        "please sign in",
        "melden sie sich an",
        "inicia sesión",
        "connectez-vous",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmations_in_several_languages_are_found_with_their_sentence() {
        assert_eq!(
            confirmation("Done. You have been unsubscribed from Weekly. Bye").as_deref(),
            Some("You have been unsubscribed from Weekly.")
        );
        assert!(confirmation("Sie wurden erfolgreich abgemeldet.").is_some());
        assert!(confirmation("Te has dado de baja correctamente.").is_some());
        assert!(confirmation("Vous êtes désinscrit.").is_some());
        assert!(confirmation("Thanks for reading our newsletter!").is_none());
        assert!(confirmation("Click below to unsubscribe.").is_none());
    }

    #[test]
    fn controls_are_read_by_what_they_do() {
        assert_eq!(intent("Unsubscribe"), Some(Intent::Unsubscribe));
        assert_eq!(intent("Newsletter abbestellen"), Some(Intent::Unsubscribe));
        assert_eq!(intent("Yes, I'm sure"), Some(Intent::Confirm));
        assert_eq!(intent("Save preferences"), Some(Intent::Save));
        assert_eq!(intent("No, keep me subscribed"), None);
        assert_eq!(intent("Cancel"), None);
        assert_eq!(intent("Read more"), None);
    }

    #[test]
    fn secret_fields_are_never_email_fields_to_fill() {
        assert!(is_secret_field("Password", "password", ""));
        assert!(is_secret_field("card number", "text", "cc-number"));
        assert!(!is_secret_field("Email address", "email", "email"));
    }
}
