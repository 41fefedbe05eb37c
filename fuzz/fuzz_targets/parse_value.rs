//! The value and period parsers on any text: never a panic, and a number is
//! always finite.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zonestat::text::{TextValue, normalize_name, parse_period, parse_text_value};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let TextValue::Number { value, .. } = parse_text_value(&text) {
        assert!(value.is_finite());
    }
    if let Ok(p) = parse_period(&text) {
        assert!((1..=12).contains(&p.month));
        assert_eq!(p.to_string().parse::<zonestat::model::Period>(), Ok(p));
    }
    let _ = normalize_name(&text);
});
