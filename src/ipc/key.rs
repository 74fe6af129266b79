//! Keys (`key_t`), `ftok`, and the flags of the `*get` calls.

use std::fmt;
use std::io;
use std::path::Path;

/// An IPC key, the `key_t` that `msgget`, `semget` and `shmget` look objects up by.
///
/// [`Key::PRIVATE`] (`IPC_PRIVATE`, 0) always creates a new object that no key lookup can
/// ever find; every other value names at most one object per kind in a
/// [`Namespace`](crate::Namespace). Keys print as `ipcs(1)` prints them, `0x0000002a`.
///
/// # Examples
///
/// ```
/// use svipc::Key;
///
/// let key = Key::new(42);
/// assert_eq!(key.raw(), 42);
/// assert!(!key.is_private());
/// assert!(Key::PRIVATE.is_private());
/// assert_eq!(key.to_string(), "0x0000002a");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Key(i32);

impl Key {
    /// `IPC_PRIVATE`: the `*get` calls always create a new object, never found by key.
    pub const PRIVATE: Key = Key(0);

    /// The key with this raw `key_t` value (0 is [`Key::PRIVATE`]).
    pub const fn new(raw: i32) -> Key {
        Key(raw)
    }

    /// The raw `key_t` value.
    pub const fn raw(self) -> i32 {
        self.0
    }

    /// Whether this is `IPC_PRIVATE`.
    pub const fn is_private(self) -> bool {
        self.0 == 0
    }

    /// `ftok(3)`: a key from a path's inode and device numbers and a project id, computed
    /// exactly as glibc computes it:
    ///
    /// ```text
    /// key = (st_ino & 0xffff) | (st_dev & 0xff) << 16 | (proj_id & 0xff) << 24
    /// ```
    ///
    /// Only the low 8 bits of `proj_id` count, and different files can give the same key
    /// (ftok(3), BUGS). A key that comes out as 0 is [`Key::PRIVATE`], as in C.
    ///
    /// # Errors
    ///
    /// Whatever `stat(2)` of `path` fails with (`ENOENT`, `EACCES`, ...), as the C call
    /// reports through `errno`.
    ///
    /// # Examples
    ///
    /// ```
    /// use svipc::Key;
    ///
    /// let a = Key::ftok("/", 1)?;
    /// let b = Key::ftok("/", 2)?;
    /// assert_eq!(a.raw() & 0x00ff_ffff, b.raw() & 0x00ff_ffff); // same file
    /// assert_eq!((a.raw() as u32) >> 24, 1);                      // proj_id in the top byte
    /// assert!(Key::ftok("/no/such/file", 1).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ftok(path: impl AsRef<Path>, proj_id: i32) -> io::Result<Key> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        Ok(Key::from_stat(meta.ino(), meta.dev(), proj_id))
    }

    /// The arithmetic of glibc's `ftok`, on the raw `stat` fields.
    pub(crate) const fn from_stat(ino: u64, dev: u64, proj_id: i32) -> Key {
        let key = (ino & 0xffff) as u32 | ((dev & 0xff) as u32) << 16 | ((proj_id as u32) & 0xff) << 24;
        Key(key as i32)
    }
}

impl From<i32> for Key {
    fn from(raw: i32) -> Key {
        Key(raw)
    }
}

impl From<Key> for i32 {
    fn from(key: Key) -> i32 {
        key.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_private() {
            f.write_str("Key::PRIVATE")
        } else {
            write!(f, "Key({:#010x})", self.0 as u32)
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0 as u32)
    }
}

/// The `IPC_CREAT`, `IPC_EXCL` and mode bits of a `*get` call's flag argument.
///
/// When the call creates an object, the low 9 bits of `mode` are its permissions. When the
/// key names an existing object, they are the **access requested** and are checked with
/// `ipcperms` (so `msgget(key, 0)` asks for nothing and always succeeds on an existing
/// queue, while `msgget(key, 0400)` needs read permission).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct OpenFlags {
    /// `IPC_CREAT`.
    pub(crate) create: bool,
    /// `IPC_EXCL` (meaningful only with `IPC_CREAT`, as in the kernel).
    pub(crate) exclusive: bool,
    /// The low 9 bits count; higher bits are ignored.
    pub(crate) mode: u32,
}

impl fmt::Debug for OpenFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenFlags")
            .field("create", &self.create)
            .field("exclusive", &self.exclusive)
            .field("mode", &super::perm::Octal(self.mode))
            .finish()
    }
}

impl OpenFlags {
    /// The permission bits (`S_IRWXUGO`) of the flag argument.
    pub(crate) const fn mode_bits(self) -> u32 {
        self.mode & 0o777
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_stat_matches_glibc_arithmetic() {
        // glibc: (st_ino & 0xffff) | ((st_dev & 0xff) << 16) | ((proj_id & 0xff) << 24)
        assert_eq!(Key::from_stat(0x1234_5678, 0xabcd, 0x41).raw(), 0x41cd_5678);
        // a proj_id with the top bit set gives a negative key_t, as in C
        assert_eq!(Key::from_stat(1, 2, 0x1ff).raw(), 0xff02_0001_u32 as i32);
        assert!(Key::from_stat(0x10000, 0x100, 0x100).is_private());
    }
}
