//! Pure types and rules. Nothing in here does I/O or reads the current time.

pub mod clock;
pub mod departure;
pub mod error;
pub mod model;
pub mod normalize;
pub mod transfer;
pub mod types;

pub use clock::{Clock, ManualClock, OffsetClock, SystemClock};
pub use error::{Error, ErrorKind, Result};
pub use types::*;
