//! The local sorter's built-in vocabulary: common email words by concept, and how a category's
//! name and description pick the concepts that seed it.

use std::collections::HashMap;

use super::local::{CategorySeed, DESCRIPTION_WORD_WEIGHT, LEXICON_WEIGHT, NAME_WORD_WEIGHT, SEED_MASS};
use super::text::{stem, tokens};

/// Common email vocabulary by concept. A concept's `triggers` are words a person may use in a
/// category's name or description ("receipts", "orders", "purchases"); its `words` are what
/// emails of that kind typically say. General email vocabulary, with a few German, French and
/// Spanish equivalents; words that also name days or everyday things ("friday", "night", "flat")
/// are left out. `_money`, `_percent`, `_list`, `_unsubscribe` and `_conversation` are shapes.
struct Concept {
    triggers: &'static str,
    words: &'static str,
}

const CONCEPTS: &[Concept] = &[
    Concept {
        triggers: "receipt order purchase invoice bought buy shopping payment paid refund bestellung rechnung kauf \
                   commande facture achat pedido factura recibo compra",
        words: "order receipt invoice purchase confirmation confirmed shipped shipping delivery delivered tracking \
                package parcel total subtotal tax payment paid refund refunded quantity qty item price charged card \
                visa mastercard paypal billing amount _money bestellung bestellbestätigung rechnung versand lieferung \
                zahlung commande facture livraison paiement reçu pedido factura envío pago recibo",
    },
    Concept {
        triggers: "shipping ship delivery deliver package parcel tracking courier versand lieferung paket livraison \
                   colis envío paquete",
        words: "shipped shipping delivery delivered tracking track package parcel courier carrier shipment dispatched \
                arriving arrive estimated doorstep versand paket zugestellt livraison colis livré envío paquete entregado",
    },
    Concept {
        triggers: "travel trip flight hotel booking vacation holiday airline train rail rental itinerary reise flug \
                   urlaub voyage vol hôtel viaje vuelo reserva",
        words: "flight booking reservation hotel check checkin boarding pass itinerary departure departs arrival gate \
                seat terminal airport airline passenger trip stay room guest rental pickup train rail ticket \
                eticket platform travel luggage baggage destination flug buchung reise abflug zimmer vol réservation \
                voyage billet embarquement vuelo reserva viaje billete embarque habitación",
    },
    Concept {
        triggers: "newsletter digest subscribed reading read article blog magazine weekly monthly editorial roundup",
        words: "newsletter issue weekly digest edition read reading article story stories week roundup links readers \
                subscribers author essay podcast episode column editor briefing brief _list _unsubscribe ausgabe \
                artikel woche lettre numéro semaine édition boletín número semana artículo",
    },
    Concept {
        triggers: "promotion promotional promo sale deal offer discount coupon marketing advertising ads angebot rabatt \
                   werbung soldes réduction publicité promoción oferta descuento publicidad",
        words: "sale deal offer discount coupon code promo save off _percent free limited exclusive shop arrivals \
                clearance bonus gift special price hurry reward points _list _unsubscribe angebot rabatt sparen \
                gutschein aktion soldes réduction offre oferta descuento rebajas cupón ahorra",
    },
    Concept {
        triggers: "social network notification forum community follower like mention comment",
        words: "liked like commented comment replied reply mentioned mention followed follower friend request tagged \
                shared post posted photo profile notification connection group thread forum topic activity reacted \
                memories network invited gefällt kommentar erwähnt aime commenté mentionné abonné gusta comentario \
                mencionó seguidor",
    },
    Concept {
        triggers: "code coding github gitlab repository developer build ci pull commit",
        words: "pull request merged merge commit branch build failed failing passed pipeline repository repo issue \
                opened closed review requested approved ci deploy deployment workflow run",
    },
    Concept {
        triggers: "work job office colleague coworker employer company business team project meeting professional \
                   arbeit büro kollegen travail bureau collègues trabajo oficina colegas",
        words: "_conversation meeting agenda project deadline review team sprint standup status report quarterly client proposal \
                draft document doc slides presentation schedule invitation invite calendar call sync manager hr \
                expense approval approved policy benefits payroll office colleagues plan planning milestone roadmap \
                action minutes q1 q2 q3 q4 feedback priority tasks onboarding staging production release \
                besprechung termin projekt bericht réunion projet équipe rapport reunión proyecto equipo informe",
    },
    Concept {
        triggers: "personal family friend private relative mom dad parent kids familie freunde famille amis familia \
                   amigos",
        words: "_conversation love dinner lunch brunch coffee family birthday mom dad mum kids photos hike visit \
                christmas thanksgiving party wedding miss hug xoxo hope soon sister brother aunt uncle grandma baby \
                celebrate congratulations hey hi liebe familie geburtstag abendessen bisous famille anniversaire dîner \
                besos familia cumpleaños cena abrazo",
    },
    Concept {
        triggers: "household home house apartment flat landlord tenant neighbour neighbor rent",
        words: "rent lease landlord tenant repair apartment maintenance plumber boiler heating neighbour neighbor \
                keys deposit renewal inspection vermieter miete propriétaire loyer casero alquiler",
    },
    Concept {
        triggers: "finance financial bank banking money bill statement insurance tax investment account utility credit \
                   loan mortgage konto versicherung steuer banque assurance impôts banco seguro cuenta",
        words: "statement balance account bank bill insurance due payment autopay credit debit card transfer deposit \
                withdrawal interest loan mortgage tax policy premium amount utility energy electricity gas water \
                phone plan renewal _money kontoauszug konto überweisung rechnung versicherung relevé compte virement \
                banque assurance facture extracto cuenta transferencia banco seguro",
    },
    Concept {
        triggers: "security login password alert verification",
        words: "password sign signin login code verification verify security alert device reset suspicious activity \
                confirm authentication factor 2fa passwort sicherheit anmeldung passe sécurité connexion contraseña \
                seguridad",
    },
    Concept {
        triggers: "event calendar invitation rsvp ticket concert meetup",
        words: "event rsvp invitation invite tickets venue doors attend join calendar date reminder starts registration \
                register meetup concert going",
    },
    Concept {
        triggers: "career recruiting recruiter application hiring",
        words: "application position role candidate interview resume cv hiring recruiter opportunity salary job \
                opening apply applied",
    },
    Concept {
        triggers: "health medical doctor appointment pharmacy dentist clinic hospital",
        words: "appointment doctor clinic patient prescription pharmacy dental dentist health results lab visit",
    },
    Concept {
        triggers: "school education course class university college teacher",
        words: "class course lesson homework teacher student grade semester enrollment school assignment lecture exam",
    },
    Concept {
        triggers: "support helpdesk customer service",
        words: "ticket support request case resolved agent help issue response customer service",
    },
    Concept {
        triggers: "news headlines journalism",
        words: "breaking headlines news report today briefing politics world election",
    },
    Concept {
        triggers: "subscription renewal membership streaming",
        words: "subscription renewal renew plan membership trial billing cancel premium monthly annual",
    },
];

/// Each category's seed: its name words (weighted up), its description words, and the lexicon
/// concepts it asks for, scaled to `SEED_MASS`. A concept goes to the category (or categories, on
/// a tie) whose name and description mention it most, so "receipts" vocabulary does not leak into
/// a promotions category whose description says "shops I have bought from".
pub(super) fn build_seeds(categories: &[CategorySeed]) -> Vec<HashMap<String, f32>> {
    let own: Vec<(Vec<String>, Vec<String>)> =
        categories.iter().map(|c| (distinct_stems(&c.name), distinct_stems(&c.description))).collect();
    let mut seeds: Vec<HashMap<String, f32>> = own
        .iter()
        .map(|(name, description)| {
            let mut seed = HashMap::new();
            for word in name {
                *seed.entry(word.clone()).or_insert(0.0) += NAME_WORD_WEIGHT;
            }
            for word in description {
                *seed.entry(word.clone()).or_insert(0.0) += DESCRIPTION_WORD_WEIGHT;
            }
            seed
        })
        .collect();
    for concept in CONCEPTS {
        let triggers = distinct_stems(concept.triggers);
        let hits = |words: &[String]| words.iter().filter(|w| triggers.contains(w)).count() as f32;
        let scores: Vec<f32> = own.iter().map(|(name, description)| 3.0 * hits(name) + hits(description)).collect();
        let best = scores.iter().copied().fold(0.0f32, f32::max);
        if best < 1.0 {
            continue;
        }
        let strength = LEXICON_WEIGHT * (best / 3.0).min(1.0);
        let words = concept_words(concept.words);
        for (seed, _) in seeds.iter_mut().zip(&scores).filter(|(_, score)| **score >= best) {
            for word in &words {
                *seed.entry(word.clone()).or_insert(0.0) += strength;
            }
        }
    }
    for seed in &mut seeds {
        let total: f32 = seed.values().sum();
        if total > 0.0 {
            seed.values_mut().for_each(|weight| *weight *= SEED_MASS / total);
        }
    }
    seeds
}

fn distinct_stems(text: &str) -> Vec<String> {
    let mut words = tokens(text);
    for word in &mut words {
        stem(word);
    }
    words.sort_unstable();
    words.dedup();
    words
}

fn concept_words(list: &str) -> Vec<String> {
    let mut words: Vec<String> = list
        .split_whitespace()
        .flat_map(|item| if item.starts_with('_') { vec![item.to_owned()] } else { distinct_stems(item) })
        .collect();
    words.sort_unstable();
    words.dedup();
    words
}
