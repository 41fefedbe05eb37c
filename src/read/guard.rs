//! Running a parser on untrusted bytes so that its panic stays a finding for
//! that one file: the panic is caught, its message kept, and nothing is printed
//! to stderr while the guard is on (a batch of bad files would otherwise flood
//! the terminal with backtraces the user cannot act on).

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// How many guards are active on this thread (guards may nest).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// The message of the last panic caught on this thread.
    static MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Installs, once per process, a panic hook that is silent inside a guard and
/// hands every other panic to the hook that was there before.
fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if DEPTH.with(Cell::get) > 0 {
                let text = info.payload_as_str().unwrap_or("unknown panic");
                // The crate and file, not the build machine's paths.
                let at = info
                    .location()
                    .map(|l| {
                        let parts: Vec<&str> = l.file().rsplit(['/', '\\']).take(3).collect();
                        let file: Vec<&str> = parts.into_iter().rev().collect();
                        format!(" at {}:{}", file.join("/"), l.line())
                    })
                    .unwrap_or_default();
                MESSAGE.with(|m| *m.borrow_mut() = Some(format!("{text}{at}")));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f`; a panic inside it becomes `Err` with the panic's message and
/// where it happened, printed nowhere.
///
/// # Errors
/// The panic message when `f` panics.
///
/// # Examples
/// ```
/// use zonestat::read::guard::isolate;
/// assert_eq!(isolate(|| 1 + 1), Ok(2));
/// let e = isolate(|| -> u8 { panic!("bad record") }).unwrap_err();
/// assert!(e.contains("bad record"));
/// ```
pub fn isolate<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    DEPTH.with(|d| d.set(d.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    DEPTH.with(|d| d.set(d.get() - 1));
    result.map_err(|_| {
        MESSAGE
            .with(|m| m.borrow_mut().take())
            .unwrap_or_else(|| "unknown panic".into())
    })
}
