//! A caught panic in words: the trainer reports one as a failed run, a UI task as an error
//! its owner shows.

/// The panic's message (`panic!("…")` payloads are `&str` or `String`).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_str_and_string_payloads() {
        let caught = std::panic::catch_unwind(|| panic!("boom")).unwrap_err();
        assert_eq!(panic_message(caught.as_ref()), "boom");
        let caught = std::panic::catch_unwind(|| panic!("{} {}", "formatted", 2)).unwrap_err();
        assert_eq!(panic_message(caught.as_ref()), "formatted 2");
        let caught = std::panic::catch_unwind(|| std::panic::panic_any(7_u8)).unwrap_err();
        assert_eq!(panic_message(caught.as_ref()), "unknown panic");
    }
}
