//! `Interest` and `Ready`: what a task waits for, and what a source is.

use std::fmt;
use std::ops;

/// The readiness a task is interested in: readable, writable, or both.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Interest(u8);

impl Interest {
    /// Interest in reading (`EVFILT_READ`).
    pub const READABLE: Interest = Interest(1);
    /// Interest in writing (`EVFILT_WRITE`).
    pub const WRITABLE: Interest = Interest(2);

    /// Whether reading is of interest.
    pub const fn is_readable(self) -> bool {
        self.0 & 1 != 0
    }

    /// Whether writing is of interest.
    pub const fn is_writable(self) -> bool {
        self.0 & 2 != 0
    }

    /// Both interests.
    #[must_use]
    pub const fn add(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }

    /// The readiness that satisfies this interest: readable or writable, the matching
    /// closed side, and errors.
    pub(crate) fn mask(self) -> Ready {
        let mut r = Ready::ERROR;
        if self.is_readable() {
            r = r | Ready::READABLE | Ready::READ_CLOSED;
        }
        if self.is_writable() {
            r = r | Ready::WRITABLE | Ready::WRITE_CLOSED;
        }
        r
    }
}

impl ops::BitOr for Interest {
    type Output = Interest;
    fn bitor(self, other: Interest) -> Interest {
        self.add(other)
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => f.write_str("READABLE | WRITABLE"),
            (true, false) => f.write_str("READABLE"),
            (false, true) => f.write_str("WRITABLE"),
            (false, false) => f.write_str("(empty)"),
        }
    }
}

/// The readiness of a source, as its last events reported it.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Ready(u8);

impl Ready {
    /// Nothing is ready.
    pub const EMPTY: Ready = Ready(0);
    /// Readable (`EVFILT_READ` fired).
    pub const READABLE: Ready = Ready(1);
    /// Writable (`EVFILT_WRITE` fired).
    pub const WRITABLE: Ready = Ready(1 << 1);
    /// The read side is closed (`EV_EOF` on `EVFILT_READ`).
    pub const READ_CLOSED: Ready = Ready(1 << 2);
    /// The write side is closed (`EV_EOF` on `EVFILT_WRITE`).
    pub const WRITE_CLOSED: Ready = Ready(1 << 3);
    /// The source reported an error (`EV_EOF` with an errno in `fflags`, or `EV_ERROR`).
    pub const ERROR: Ready = Ready(1 << 4);
    /// Every readiness.
    pub const ALL: Ready = Ready(0x1f);

    pub(crate) const fn from_bits(bits: usize) -> Ready {
        Ready((bits & 0x1f) as u8)
    }

    pub(crate) const fn bits(self) -> usize {
        self.0 as usize
    }

    /// Nothing is ready.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Readable (or the read side closed).
    pub const fn is_readable(self) -> bool {
        self.0 & (Ready::READABLE.0 | Ready::READ_CLOSED.0) != 0
    }

    /// Writable (or the write side closed).
    pub const fn is_writable(self) -> bool {
        self.0 & (Ready::WRITABLE.0 | Ready::WRITE_CLOSED.0) != 0
    }

    /// The read side is closed.
    pub const fn is_read_closed(self) -> bool {
        self.0 & Ready::READ_CLOSED.0 != 0
    }

    /// The write side is closed.
    pub const fn is_write_closed(self) -> bool {
        self.0 & Ready::WRITE_CLOSED.0 != 0
    }

    /// An error was reported.
    pub const fn is_error(self) -> bool {
        self.0 & Ready::ERROR.0 != 0
    }

    pub(crate) const fn intersection(self, other: Ready) -> Ready {
        Ready(self.0 & other.0)
    }

    pub(crate) const fn without(self, other: Ready) -> Ready {
        Ready(self.0 & !other.0)
    }
}

impl ops::BitOr for Ready {
    type Output = Ready;
    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Ready::READABLE, "READABLE"),
            (Ready::WRITABLE, "WRITABLE"),
            (Ready::READ_CLOSED, "READ_CLOSED"),
            (Ready::WRITE_CLOSED, "WRITE_CLOSED"),
            (Ready::ERROR, "ERROR"),
        ];
        let mut first = true;
        for (bit, name) in names {
            if self.0 & bit.0 != 0 {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("EMPTY")?;
        }
        Ok(())
    }
}
