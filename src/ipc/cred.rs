//! Credentials: who is calling (the kernel's `current_cred()` as far as SysV IPC reads it).

use std::fmt;

/// The four capabilities System V IPC consults (capabilities(7)).
///
/// Privilege in the kernel's IPC code is not one "root" bit but four capabilities, each
/// guarding a different rule:
///
/// | capability | what it allows |
/// |---|---|
/// | [`IPC_OWNER`](Self::IPC_OWNER) | bypasses every mode check (`ipcperms`) |
/// | [`SYS_ADMIN`](Self::SYS_ADMIN) | `IPC_SET` and `IPC_RMID` on objects the caller neither owns nor created |
/// | [`SYS_RESOURCE`](Self::SYS_RESOURCE) | raising `msg_qbytes` above `MSGMNB` |
/// | [`IPC_LOCK`](Self::IPC_LOCK) | `SHM_LOCK`/`SHM_UNLOCK` on segments the caller neither owns nor created |
///
/// # Examples
///
/// ```
/// use svipc::Capabilities;
///
/// let caps = Capabilities::IPC_OWNER | Capabilities::IPC_LOCK;
/// assert!(caps.contains(Capabilities::IPC_OWNER));
/// assert!(!caps.contains(Capabilities::SYS_ADMIN));
/// assert_eq!(Capabilities::ALL.without(caps), Capabilities::SYS_ADMIN | Capabilities::SYS_RESOURCE);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Capabilities(u8);

impl Capabilities {
    /// No capability.
    pub const NONE: Capabilities = Capabilities(0);
    /// `CAP_IPC_OWNER`: bypass the mode check of every IPC object.
    pub const IPC_OWNER: Capabilities = Capabilities(1 << 0);
    /// `CAP_SYS_ADMIN`: `IPC_SET`/`IPC_RMID` on objects of other users.
    pub const SYS_ADMIN: Capabilities = Capabilities(1 << 1);
    /// `CAP_SYS_RESOURCE`: raise `msg_qbytes` above `MSGMNB`.
    pub const SYS_RESOURCE: Capabilities = Capabilities(1 << 2);
    /// `CAP_IPC_LOCK`: `SHM_LOCK`/`SHM_UNLOCK` on segments of other users.
    pub const IPC_LOCK: Capabilities = Capabilities(1 << 3);
    /// All four capabilities: what uid 0 has unless told otherwise.
    pub const ALL: Capabilities = Capabilities(0b1111);

    /// Whether every capability in `other` is in `self`.
    pub const fn contains(self, other: Capabilities) -> bool {
        self.0 & other.0 == other.0
    }

    /// `self` with the capabilities of `other` added.
    pub const fn with(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 | other.0)
    }

    /// `self` with the capabilities of `other` taken away.
    pub const fn without(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 & !other.0)
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Reads the effective set of the real process from the `CapEff:` line of
    /// `/proc/self/status` (bits 14, 15, 21 and 24 of capabilities(7)); `None` where that
    /// file cannot be read or parsed.
    fn from_proc_status() -> Option<Capabilities> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?.trim();
        let bits = u64::from_str_radix(hex, 16).ok()?;
        const CAP_IPC_LOCK: u32 = 14;
        const CAP_IPC_OWNER: u32 = 15;
        const CAP_SYS_ADMIN: u32 = 21;
        const CAP_SYS_RESOURCE: u32 = 24;
        let mut caps = Capabilities::NONE;
        for (bit, cap) in [
            (CAP_IPC_LOCK, Capabilities::IPC_LOCK),
            (CAP_IPC_OWNER, Capabilities::IPC_OWNER),
            (CAP_SYS_ADMIN, Capabilities::SYS_ADMIN),
            (CAP_SYS_RESOURCE, Capabilities::SYS_RESOURCE),
        ] {
            if bits & (1 << bit) != 0 {
                caps = caps.with(cap);
            }
        }
        Some(caps)
    }
}

impl std::ops::BitOr for Capabilities {
    type Output = Capabilities;

    fn bitor(self, rhs: Capabilities) -> Capabilities {
        self.with(rhs)
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Capabilities::IPC_OWNER, "CAP_IPC_OWNER"),
            (Capabilities::SYS_ADMIN, "CAP_SYS_ADMIN"),
            (Capabilities::SYS_RESOURCE, "CAP_SYS_RESOURCE"),
            (Capabilities::IPC_LOCK, "CAP_IPC_LOCK"),
        ];
        let mut set = f.debug_set();
        for (cap, name) in names {
            if self.contains(cap) {
                set.entry(&format_args!("{name}"));
            }
        }
        set.finish()
    }
}

/// Who an actor is: the pid, effective uid and gid, supplementary groups and capabilities
/// that every permission check and every `*_lspid`/`sempid`/`shm_lpid` field reads.
///
/// In the kernel these come from the calling task (`current_euid()`, `in_group_p()`,
/// `ns_capable()`); in svipc they belong to a [`Process`](crate::Process), the actor through
/// which objects are opened, so one OS process can host many actors with different identities.
///
/// uid 0 has all four [`Capabilities`] unless told otherwise
/// ([`with_capabilities`](Self::with_capabilities)); any other uid has none.
///
/// # Examples
///
/// ```
/// use svipc::{Capabilities, Credentials};
///
/// let alice = Credentials::new(1000, 1000).with_pid(4242).with_groups([10, 20]);
/// assert_eq!((alice.pid(), alice.uid(), alice.gid()), (4242, 1000, 1000));
/// assert!(alice.in_group(20) && !alice.in_group(30));
/// assert!(alice.capabilities().is_empty());
///
/// // root without CAP_SYS_RESOURCE, like a container's root
/// let root = Credentials::new(0, 0).with_capabilities(Capabilities::ALL.without(Capabilities::SYS_RESOURCE));
/// assert!(!root.has(Capabilities::SYS_RESOURCE));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credentials {
    pid: i32,
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
    caps: Capabilities,
}

impl Credentials {
    /// Credentials for effective `uid` and `gid`, with this OS process's pid, no
    /// supplementary groups, and all capabilities if `uid` is 0 (none otherwise).
    pub fn new(uid: u32, gid: u32) -> Credentials {
        Credentials {
            pid: std::process::id() as i32,
            uid,
            gid,
            groups: Vec::new(),
            caps: if uid == 0 { Capabilities::ALL } else { Capabilities::NONE },
        }
    }

    /// The real process's credentials: `getpid()`, `geteuid()`, `getegid()`, `getgroups()`,
    /// and the effective capability set read from `/proc/self/status` (so a container's root
    /// without `CAP_SYS_RESOURCE` is seen as such). Where that file cannot be read, uid 0 gets
    /// all four capabilities.
    pub fn current() -> Credentials {
        let (pid, uid, gid) = crate::sys::ids();
        let mut creds = Credentials::new(uid, gid).with_pid(pid);
        creds.groups = crate::sys::groups();
        if let Some(caps) = Capabilities::from_proc_status() {
            creds.caps = caps;
        }
        creds
    }

    /// The same credentials with another pid (what `msg_lspid`, `sempid` and `shm_lpid`
    /// record for this actor).
    pub fn with_pid(mut self, pid: i32) -> Credentials {
        self.pid = pid;
        self
    }

    /// The same credentials with these supplementary groups (replacing any before).
    pub fn with_groups(mut self, groups: impl IntoIterator<Item = u32>) -> Credentials {
        self.groups = groups.into_iter().collect();
        self
    }

    /// The same credentials with exactly this capability set.
    pub fn with_capabilities(mut self, caps: Capabilities) -> Credentials {
        self.caps = caps;
        self
    }

    /// The pid recorded by the calls this actor makes.
    #[inline]
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The effective uid.
    #[inline]
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The effective gid.
    pub fn gid(&self) -> u32 {
        self.gid
    }

    /// The supplementary groups.
    pub fn groups(&self) -> &[u32] {
        &self.groups
    }

    /// The capability set.
    pub fn capabilities(&self) -> Capabilities {
        self.caps
    }

    /// Whether every capability in `cap` is held.
    #[inline]
    pub fn has(&self, cap: Capabilities) -> bool {
        self.caps.contains(cap)
    }

    /// The kernel's `in_group_p(gid)`: the effective gid or any supplementary group.
    #[inline]
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("pid", &self.pid)
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("groups", &self.groups)
            .field("caps", &self.caps)
            .finish()
    }
}
