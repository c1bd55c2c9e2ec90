//! Pure types and rules. Nothing in here does I/O or reads the current time.

pub mod audit_chain;
pub mod clock;
pub mod departure;
pub mod directory;
pub mod error;
pub mod ids;
pub mod lifecycle;
pub mod mail;
pub mod model;
pub mod normalize;
pub mod password;
pub mod person;
pub mod policy;
pub mod scim;
pub mod throttle;
pub mod transfer;
pub mod types;

pub use clock::{Clock, ManualClock, OffsetClock, SystemClock};
pub use error::{Error, ErrorKind, Result};
pub use ids::{CardId, DepartureId, TagId, TransferId, UserId};
pub use policy::Policy;
pub use types::*;
