//! The demo mailbox: sample emails written for EmailGator (no real mail), and the starter categories.
//!
//! The messages are fictional: every sender uses a `.example` domain and every one is addressed to
//! `demo@emailgator.local`. They cover newsletters, receipts, travel, social notifications, a work
//! thread with invitations, personal mail and promotions, eight in other languages and charsets, and
//! seven deliberately malformed ones (file names containing `malformed`) that show how odd mail is handled.

/// File name and raw bytes of every sample message, in file-name order.
pub const MESSAGES: &[(&str, &[u8])] = &[
    ("01-byte-ledger-weekly.eml", include_bytes!("messages/01-byte-ledger-weekly.eml")),
    ("02-brightpan-soups.eml", include_bytes!("messages/02-brightpan-soups.eml")),
    ("03-millbrook-morning-brief.eml", include_bytes!("messages/03-millbrook-morning-brief.eml")),
    ("04-ledgerline-markets-weekly.eml", include_bytes!("messages/04-ledgerline-markets-weekly.eml")),
    ("05-compile-times-47.eml", include_bytes!("messages/05-compile-times-47.eml")),
    ("06-crumb-and-crust-31.eml", include_bytes!("messages/06-crumb-and-crust-31.eml")),
    ("07-harborview-library-events.eml", include_bytes!("messages/07-harborview-library-events.eml")),
    ("08-penny-compass-november.eml", include_bytes!("messages/08-penny-compass-november.eml")),
    ("09-oss-security-roundup.eml", include_bytes!("messages/09-oss-security-roundup.eml")),
    ("10-night-sky-notes.eml", include_bytes!("messages/10-night-sky-notes.eml")),
    ("11-millbrook-weekend-edition.eml", include_bytes!("messages/11-millbrook-weekend-edition.eml")),
    ("12-tallyboard-product-update.eml", include_bytes!("messages/12-tallyboard-product-update.eml")),
    ("13-brindle-oak-order-confirmation.eml", include_bytes!("messages/13-brindle-oak-order-confirmation.eml")),
    ("14-parcelwise-shipped.eml", include_bytes!("messages/14-parcelwise-shipped.eml")),
    ("15-parcelwise-delivered.eml", include_bytes!("messages/15-parcelwise-delivered.eml")),
    ("16-cloudnest-invoice.eml", include_bytes!("messages/16-cloudnest-invoice.eml")),
    ("17-zippa-ride-receipt.eml", include_bytes!("messages/17-zippa-ride-receipt.eml")),
    ("18-forkful-order-receipt.eml", include_bytes!("messages/18-forkful-order-receipt.eml")),
    ("19-streamcove-renewal.eml", include_bytes!("messages/19-streamcove-renewal.eml")),
    ("20-millbrook-energy-bill.eml", include_bytes!("messages/20-millbrook-energy-bill.eml")),
    ("21-brindle-oak-refund.eml", include_bytes!("messages/21-brindle-oak-refund.eml")),
    ("22-kestrel-books-receipt.eml", include_bytes!("messages/22-kestrel-books-receipt.eml")),
    ("23-northwind-booking-lisbon.eml", include_bytes!("messages/23-northwind-booking-lisbon.eml")),
    ("24-northwind-checkin-chicago.eml", include_bytes!("messages/24-northwind-checkin-chicago.eml")),
    ("25-lakeshore-hotel-chicago.eml", include_bytes!("messages/25-lakeshore-hotel-chicago.eml")),
    ("26-coastline-rail-eticket.eml", include_bytes!("messages/26-coastline-rail-eticket.eml")),
    ("27-roadrunner-car-hire.eml", include_bytes!("messages/27-roadrunner-car-hire.eml")),
    ("28-northwind-gate-change.eml", include_bytes!("messages/28-northwind-gate-change.eml")),
    ("29-wanderbook-travel-insurance.eml", include_bytes!("messages/29-wanderbook-travel-insurance.eml")),
    ("30-chirper-likes.eml", include_bytes!("messages/30-chirper-likes.eml")),
    ("31-loopin-weekly.eml", include_bytes!("messages/31-loopin-weekly.eml")),
    ("32-homebrew-forum-reply.eml", include_bytes!("messages/32-homebrew-forum-reply.eml")),
    ("33-gitforge-issue-214.eml", include_bytes!("messages/33-gitforge-issue-214.eml")),
    ("34-gitforge-review-requested.eml", include_bytes!("messages/34-gitforge-review-requested.eml")),
    ("35-gitforge-ci-failed.eml", include_bytes!("messages/35-gitforge-ci-failed.eml")),
    ("36-snapgrid-memories.eml", include_bytes!("messages/36-snapgrid-memories.eml")),
    ("37-meetloop-new-event.eml", include_bytes!("messages/37-meetloop-new-event.eml")),
    ("38-work-migration-plan.eml", include_bytes!("messages/38-work-migration-plan.eml")),
    ("39-work-migration-re-tom.eml", include_bytes!("messages/39-work-migration-re-tom.eml")),
    ("40-work-migration-re-priya.eml", include_bytes!("messages/40-work-migration-re-priya.eml")),
    ("41-work-migration-re-lena.eml", include_bytes!("messages/41-work-migration-re-lena.eml")),
    ("42-work-invite-staging-review.eml", include_bytes!("messages/42-work-invite-staging-review.eml")),
    ("43-work-invite-sprint-planning.eml", include_bytes!("messages/43-work-invite-sprint-planning.eml")),
    ("44-work-weekly-status.eml", include_bytes!("messages/44-work-weekly-status.eml")),
    ("45-work-it-maintenance.eml", include_bytes!("messages/45-work-it-maintenance.eml")),
    ("46-work-benefits-enrollment.eml", include_bytes!("messages/46-work-benefits-enrollment.eml")),
    ("47-work-expense-approved.eml", include_bytes!("messages/47-work-expense-approved.eml")),
    ("48-mom-thanksgiving.eml", include_bytes!("messages/48-mom-thanksgiving.eml")),
    ("49-sam-hike-photos.eml", include_bytes!("messages/49-sam-hike-photos.eml")),
    ("50-landlord-boiler-service.eml", include_bytes!("messages/50-landlord-boiler-service.eml")),
    ("51-jess-dad-birthday.eml", include_bytes!("messages/51-jess-dad-birthday.eml")),
    ("52-book-club-december.eml", include_bytes!("messages/52-book-club-december.eml")),
    ("53-neighbour-package.eml", include_bytes!("messages/53-neighbour-package.eml")),
    ("54-landlord-lease-renewal.eml", include_bytes!("messages/54-landlord-lease-renewal.eml")),
    ("55-ana-daniel-save-the-date.eml", include_bytes!("messages/55-ana-daniel-save-the-date.eml")),
    ("56-brindle-oak-black-friday.eml", include_bytes!("messages/56-brindle-oak-black-friday.eml")),
    ("57-trailhead-winter-jackets.eml", include_bytes!("messages/57-trailhead-winter-jackets.eml")),
    ("58-forkful-ten-off.eml", include_bytes!("messages/58-forkful-ten-off.eml")),
    ("59-kestrel-daily-deals.eml", include_bytes!("messages/59-kestrel-daily-deals.eml")),
    ("60-northwind-fare-sale.eml", include_bytes!("messages/60-northwind-fare-sale.eml")),
    ("61-glowly-gift-with-purchase.eml", include_bytes!("messages/61-glowly-gift-with-purchase.eml")),
    ("62-streamcove-premium-offer.eml", include_bytes!("messages/62-streamcove-premium-offer.eml")),
    ("63-pixelpeak-cyber-monday.eml", include_bytes!("messages/63-pixelpeak-cyber-monday.eml")),
    ("64-de-spielwerk-versand.eml", include_bytes!("messages/64-de-spielwerk-versand.eml")),
    ("65-fr-lettre-du-marche.eml", include_bytes!("messages/65-fr-lettre-du-marche.eml")),
    ("66-es-lucia-valencia.eml", include_bytes!("messages/66-es-lucia-valencia.eml")),
    ("67-ja-sakura-bungu-order.eml", include_bytes!("messages/67-ja-sakura-bungu-order.eml")),
    ("68-ja-watanabe-rehearsal.eml", include_bytes!("messages/68-ja-watanabe-rehearsal.eml")),
    ("69-ru-oleg-privet.eml", include_bytes!("messages/69-ru-oleg-privet.eml")),
    ("70-ru-fotoklub-forum.eml", include_bytes!("messages/70-ru-fotoklub-forum.eml")),
    ("71-pt-casa-do-largo-reserva.eml", include_bytes!("messages/71-pt-casa-do-largo-reserva.eml")),
    ("72-malformed-no-date-aunt-june.eml", include_bytes!("messages/72-malformed-no-date-aunt-june.eml")),
    ("73-malformed-truncated-maison-verte.eml", include_bytes!("messages/73-malformed-truncated-maison-verte.eml")),
    ("74-malformed-boundary-farmers-market.eml", include_bytes!("messages/74-malformed-boundary-farmers-market.eml")),
    ("75-malformed-header-garbage-bike-shop.eml", include_bytes!("messages/75-malformed-header-garbage-bike-shop.eml")),
    ("76-malformed-unknown-charset-canteen.eml", include_bytes!("messages/76-malformed-unknown-charset-canteen.eml")),
    (
        "77-malformed-truncated-base64-phone-bill.eml",
        include_bytes!("messages/77-malformed-truncated-base64-phone-bill.eml"),
    ),
    ("78-malformed-cron-backup-report.eml", include_bytes!("messages/78-malformed-cron-backup-report.eml")),
];

/// Starter categories: name and a plain-words description the AI sorts by.
pub const STARTER_CATEGORIES: &[(&str, &str)] = &[
    (
        "Newsletters",
        "Regular newsletters and digests I subscribed to: tech, cooking, local news, money, hobbies and \
         product-update letters. Mostly reading material, nothing I have to act on.",
    ),
    (
        "Receipts & orders",
        "Order confirmations, receipts, invoices, bills and statements, refunds, and shipping or delivery \
         notices for things I bought or pay for.",
    ),
    (
        "Travel",
        "Flight, train, hotel and car-rental bookings, check-in reminders, gate changes, itineraries and \
         travel insurance.",
    ),
    (
        "Social",
        "Automatic notifications from social networks, forums, photo apps, event sites and code hosting: \
         likes, replies, mentions, review requests and build results.",
    ),
    (
        "Work",
        "Mail from colleagues and my employer's systems: project discussions, meeting invitations, status \
         reports, IT, HR and expense notices.",
    ),
    (
        "Personal",
        "Mail written to me by family, friends, neighbours or my landlord: plans, news, invitations and \
         household matters.",
    ),
    (
        "Promotions",
        "Sales, discounts, coupons and marketing offers from shops and services, including ones I have \
         bought from before.",
    ),
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::{NaiveDate, NaiveDateTime};

    use super::{MESSAGES, STARTER_CATEGORIES};
    use crate::domain::mime::{ParsedEmail, parse};

    const DEMO_ADDRESS: &str = "demo@emailgator.local";

    fn parsed() -> Vec<(&'static str, ParsedEmail)> {
        MESSAGES.iter().map(|(name, raw)| (*name, parse(raw))).collect()
    }

    fn utc(day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day).and_then(|d| d.and_hms_opt(hour, 0, 0)).expect("a valid date")
    }

    #[test]
    fn there_are_at_least_60_messages_with_unique_names_in_file_name_order() {
        assert!(MESSAGES.len() >= 60, "{}", MESSAGES.len());
        let names: Vec<&str> = MESSAGES.iter().map(|(name, _)| *name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        assert_eq!(names.iter().collect::<HashSet<_>>().len(), names.len());
        for (name, raw) in MESSAGES {
            assert!(name.ends_with(".eml") && name.as_bytes().first().is_some_and(u8::is_ascii_digit), "{name}");
            assert!(raw.len() <= 8 * 1024, "{name} is {} bytes", raw.len());
        }
    }

    #[test]
    fn every_message_parses_shows_some_text_and_has_a_unique_message_id() {
        let mut ids = HashSet::new();
        for (name, email) in parsed() {
            assert!(email.text_body.as_deref().is_some_and(|text| !text.trim().is_empty()), "{name} shows no text");
            assert!(!email.snippet.is_empty(), "{name}");
            assert!(!email.subject.is_empty(), "{name}");
            assert_eq!(email.to_addresses, vec![DEMO_ADDRESS], "{name}");
            let id = email.message_id.unwrap_or_else(|| panic!("{name} has no Message-ID"));
            assert!(ids.insert(id.clone()), "{name} repeats the Message-ID {id}");
        }
    }

    #[test]
    fn well_formed_messages_have_a_named_sender_and_a_date_in_the_demo_fortnight_and_no_problems() {
        for (name, email) in parsed().into_iter().filter(|(name, _)| !name.contains("malformed")) {
            assert!(email.problems.is_empty(), "{name}: {:?}", email.problems);
            assert!(email.from_name.is_some(), "{name}");
            assert!(email.from_address.as_deref().is_some_and(|a| a.ends_with(".example")), "{name}");
            let sent_at = email.sent_at.unwrap_or_else(|| panic!("{name} has no date"));
            assert!(sent_at >= utc(10, 0) && sent_at < utc(26, 0), "{name}: {sent_at}");
        }
    }

    #[test]
    fn at_least_15_messages_offer_list_unsubscribe_and_some_of_them_one_click() {
        let emails = parsed();
        let with_unsubscribe = emails.iter().filter(|(_, email)| !email.list_unsubscribe.is_empty()).count();
        let one_click = emails.iter().filter(|(_, email)| email.is_one_click).count();
        assert!(with_unsubscribe >= 15, "{with_unsubscribe}");
        assert!(one_click >= 5, "{one_click}");
    }

    #[test]
    fn at_least_4_messages_are_visibly_malformed() {
        let malformed: Vec<&str> = parsed()
            .into_iter()
            .filter(|(_, email)| !email.problems.is_empty() || email.sent_at.is_none() || email.from_address.is_none())
            .map(|(name, _)| name)
            .collect();
        assert!(malformed.len() >= 4, "{malformed:?}");
        assert!(malformed.iter().all(|name| name.contains("malformed")), "{malformed:?}");
    }

    #[test]
    fn at_least_6_subjects_are_non_ascii_and_other_charsets_decode() {
        let emails = parsed();
        let non_ascii = emails.iter().filter(|(_, email)| !email.subject.is_ascii()).count();
        assert!(non_ascii >= 6, "{non_ascii}");
        let expected = [
            ("64-de-spielwerk-versand.eml", "Versandbestätigung", "Herzliche Grüße"),
            ("65-fr-lettre-du-marche.eml", "potimarron", "Velouté de potimarron"),
            ("66-es-lucia-valencia.eml", "¿Vienes a Valencia", "¡Un abrazo muy fuerte!"),
            ("67-ja-sakura-bungu-order.eml", "ご注文ありがとうございます", "さくら文具店"),
            ("68-ja-watanabe-rehearsal.eml", "検証スクリプト", "東京オフィス"),
            ("69-ru-oleg-privet.eml", "Привет из Новосибирска", "Обнимаю"),
            ("70-ru-fotoklub-forum.eml", "штатив", "Фотоклуб «Объектив»"),
            ("71-pt-casa-do-largo-reserva.eml", "Confirmação", "pequeno-almoço"),
        ];
        for (file, subject, body) in expected {
            let (_, email) = emails.iter().find(|(name, _)| *name == file).unwrap_or_else(|| panic!("{file}"));
            assert!(email.subject.contains(subject), "{file}: {}", email.subject);
            assert!(email.text_body.as_deref().is_some_and(|text| text.contains(body)), "{file}");
        }
    }

    #[test]
    fn starter_categories_have_unique_names_and_descriptions() {
        assert_eq!(STARTER_CATEGORIES.len(), 7);
        let names: HashSet<&str> = STARTER_CATEGORIES.iter().map(|(name, _)| *name).collect();
        assert_eq!(names.len(), STARTER_CATEGORIES.len());
        for (name, description) in STARTER_CATEGORIES {
            assert!(!name.is_empty() && description.len() > 40, "{name}");
        }
    }
}
