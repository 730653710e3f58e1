//! Which filesystem a database lives on, and whether WAL is safe there.
//!
//! WAL shares its index (the `-shm` file) between connections through shared memory, and its
//! locks through POSIX advisory locks. Both work between processes of one kernel only: on a
//! filesystem that another host (or a VM's host, or a FUSE daemon) also serves, two
//! processes on different hosts see different shared memory, and a reader can miss frames or
//! a checkpoint can overwrite pages in use (sqlite.org/wal.html: "WAL does not work over a
//! network filesystem"). Locks over NFS, SMB and FUSE are only as good as the server's.
//!
//! [`classify_magic`] answers from `statfs().f_type` alone (what an extension sees without
//! reading `/proc`); [`classify`] also takes the type name that `/proc/self/mountinfo` gives,
//! which tells virtiofs and the FUSE filesystems apart (they all share FUSE's magic number).

/// Whether WAL can be trusted on a filesystem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalSafety {
    /// A local filesystem of this kernel: shared memory and POSIX locks work between its
    /// processes, as WAL needs.
    Safe,
    /// A network filesystem (NFS, SMB/CIFS, Ceph, AFS, ...) or a cluster filesystem: other
    /// hosts can open the file, and WAL's shared memory cannot reach them.
    Network,
    /// A filesystem shared with a VM's host or with other guests (9p, virtiofs, VirtualBox
    /// shared folders): the other side's processes share neither memory nor locks with ours.
    HostShared,
    /// A FUSE filesystem: a user-space daemon decides what reaches the files and whether
    /// locks are honoured; WAL is safe only if it is local and passes locks through.
    Fuse,
    /// A magic number this table does not know.
    Unknown,
}

impl WalSafety {
    /// Is WAL known to be safe here?
    pub fn is_safe(self) -> bool {
        self == WalSafety::Safe
    }

    /// One sentence for a log line or a report; empty for [`WalSafety::Safe`].
    pub fn warning(self) -> &'static str {
        match self {
            WalSafety::Safe => "",
            WalSafety::Network => {
                "WAL is not safe on a network filesystem: its shared memory (-shm) works only between processes of one host, and locks are only as good as the server's"
            }
            WalSafety::HostShared => {
                "WAL is not safe on a filesystem shared with a VM host or other guests: processes on the other side share neither the -shm memory nor the locks"
            }
            WalSafety::Fuse => {
                "WAL is not known to be safe on a FUSE filesystem: its daemon decides whether shared memory and locks reach the file; safe only if it is local and passes locks through"
            }
            WalSafety::Unknown => "unknown filesystem type: cannot tell whether WAL's shared memory and locks work here",
        }
    }

    /// A short machine-readable name: `safe`, `network`, `host-shared`, `fuse`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            WalSafety::Safe => "safe",
            WalSafety::Network => "network",
            WalSafety::HostShared => "host-shared",
            WalSafety::Fuse => "fuse",
            WalSafety::Unknown => "unknown",
        }
    }
}

/// A filesystem as told by its magic number (and, with [`classify`], its mount type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Filesystem {
    /// The kernel's name for it (`ext4`, `tmpfs`, `nfs`, `fuse`, ...), or `unknown`.
    pub name: &'static str,
    pub wal: WalSafety,
}

/// Magic numbers from the kernel's `include/uapi/linux/magic.h` (and the filesystems that
/// define theirs elsewhere: ZFS, GPFS, Lustre, OCFS2, vboxsf).
const TABLE: &[(u64, &str, WalSafety)] = &[
    (0xEF53, "ext2/ext3/ext4", WalSafety::Safe),
    (0x5846_5342, "xfs", WalSafety::Safe),
    (0x9123_683E, "btrfs", WalSafety::Safe),
    (0x2FC1_2FC1, "zfs", WalSafety::Safe),
    (0xF2F5_2010, "f2fs", WalSafety::Safe),
    (0xCA45_1A4E, "bcachefs", WalSafety::Safe),
    (0x3434, "nilfs2", WalSafety::Safe),
    (0x3153_464A, "jfs", WalSafety::Safe),
    (0x5265_4973, "reiserfs", WalSafety::Safe),
    (0x0102_1994, "tmpfs", WalSafety::Safe),
    (0x8584_58F6, "ramfs", WalSafety::Safe),
    (0x794C_7630, "overlay", WalSafety::Safe),
    (0x6175_6673, "aufs", WalSafety::Safe),
    (0xF15F, "ecryptfs", WalSafety::Safe),
    (0x4D44, "vfat/msdos", WalSafety::Safe),
    (0x2011_BAB0, "exfat", WalSafety::Safe),
    (0x7366_746E, "ntfs3", WalSafety::Safe),
    (0x5346_544E, "ntfs", WalSafety::Safe),
    (0x7371_7368, "squashfs", WalSafety::Safe),
    (0xE0F5_E1E2, "erofs", WalSafety::Safe),
    (0x9660, "iso9660", WalSafety::Safe),
    (0x6969, "nfs", WalSafety::Network),
    (0x517B, "smb", WalSafety::Network),
    (0xFF53_4D42, "cifs", WalSafety::Network),
    (0xFE53_4D42, "smb2", WalSafety::Network),
    (0x00C3_6400, "ceph", WalSafety::Network),
    (0x5346_414F, "afs", WalSafety::Network),
    (0x6B41_4653, "afs", WalSafety::Network),
    (0x7375_7245, "coda", WalSafety::Network),
    (0x0BD0_0BD0, "lustre", WalSafety::Network),
    (0x4750_4653, "gpfs", WalSafety::Network),
    (0x0116_1970, "gfs2", WalSafety::Network),
    (0x7461_636F, "ocfs2", WalSafety::Network),
    (0x0102_1997, "9p", WalSafety::HostShared),
    (0x786F_4256, "vboxsf", WalSafety::HostShared),
    (0x6573_5546, "fuse", WalSafety::Fuse),
];

/// The filesystem of a `statfs().f_type`. The field is signed on some ABIs: pass it as the
/// kernel's 32-bit value (`f_type as u32 as u64` is always right).
pub fn classify_magic(magic: u64) -> Filesystem {
    let magic = magic & 0xFFFF_FFFF;
    TABLE
        .iter()
        .find(|(m, _, _)| *m == magic)
        .map(|&(_, name, wal)| Filesystem { name, wal })
        .unwrap_or(Filesystem { name: "unknown", wal: WalSafety::Unknown })
}

/// The filesystem of a `statfs().f_type`, refined by the mount's type as `/proc/self/mountinfo`
/// names it (`fuse.sshfs`, `virtiofs`, `nfs4`, ...), when known. FUSE's magic number covers
/// virtiofs and every FUSE daemon; the mount type tells them apart.
pub fn classify(magic: u64, mount_type: Option<&str>) -> Filesystem {
    let by_magic = classify_magic(magic);
    let Some(t) = mount_type else {
        return by_magic;
    };
    match t {
        "virtiofs" => Filesystem { name: "virtiofs", wal: WalSafety::HostShared },
        "nfs" | "nfs4" => Filesystem { name: "nfs", wal: WalSafety::Network },
        // Network filesystems through FUSE.
        "fuse.sshfs" | "fuse.s3fs" | "fuse.rclone" | "fuse.gcsfuse" | "fuse.glusterfs" | "fuse.ceph-fuse" | "fuse.davfs"
        | "fuse.smbnetfs" | "fuse.goofys" | "fuse.juicefs" => Filesystem { name: "fuse (network)", wal: WalSafety::Network },
        // vmhgfs-fuse: VMware's shared folders.
        "fuse.vmhgfs-fuse" => Filesystem { name: "fuse (vmhgfs)", wal: WalSafety::HostShared },
        _ => by_magic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_filesystems_are_safe() {
        for (magic, name) in [(0xEF53, "ext2/ext3/ext4"), (0x5846_5342, "xfs"), (0x0102_1994, "tmpfs"), (0x794C_7630, "overlay")] {
            let fs = classify_magic(magic);
            assert_eq!(fs.name, name);
            assert!(fs.wal.is_safe(), "{name}");
            assert_eq!(fs.wal.warning(), "");
        }
    }

    #[test]
    fn network_and_shared_filesystems_are_not() {
        assert_eq!(classify_magic(0x6969), Filesystem { name: "nfs", wal: WalSafety::Network });
        assert_eq!(classify_magic(0xFF53_4D42).wal, WalSafety::Network);
        assert_eq!(classify_magic(0xFE53_4D42).wal, WalSafety::Network);
        assert_eq!(classify_magic(0x517B).wal, WalSafety::Network);
        assert_eq!(classify_magic(0x0102_1997), Filesystem { name: "9p", wal: WalSafety::HostShared });
        assert_eq!(classify_magic(0x6573_5546), Filesystem { name: "fuse", wal: WalSafety::Fuse });
        for magic in [0x6969, 0xFF53_4D42, 0x0102_1997, 0x6573_5546, 0x1234] {
            let wal = classify_magic(magic).wal;
            assert!(!wal.is_safe());
            assert!(wal.warning().contains("WAL") || wal.warning().contains("unknown"), "{wal:?}");
        }
    }

    #[test]
    fn a_sign_extended_magic_is_the_same_filesystem() {
        // f_type is a signed long on x86_64: CIFS's 0xFF534D42 arrives sign-extended.
        let sign_extended = 0xFF53_4D42u32 as i32 as i64 as u64;
        assert_eq!(classify_magic(sign_extended).name, "cifs");
    }

    #[test]
    fn unknown_magic_is_unknown() {
        assert_eq!(classify_magic(0x1234), Filesystem { name: "unknown", wal: WalSafety::Unknown });
        assert_eq!(classify(0x1234, Some("weirdfs")).wal, WalSafety::Unknown);
    }

    #[test]
    fn the_mount_type_tells_fuse_filesystems_apart() {
        const FUSE: u64 = 0x6573_5546;
        assert_eq!(classify(FUSE, Some("virtiofs")).wal, WalSafety::HostShared);
        assert_eq!(classify(FUSE, Some("fuse.sshfs")).wal, WalSafety::Network);
        assert_eq!(classify(FUSE, Some("fuse.bindfs")), Filesystem { name: "fuse", wal: WalSafety::Fuse });
        assert_eq!(classify(FUSE, None).wal, WalSafety::Fuse);
        // A local filesystem keeps its answer whatever the mount calls itself.
        assert_eq!(classify(0xEF53, Some("ext4")).wal, WalSafety::Safe);
    }

    #[test]
    fn names_are_stable() {
        let all = [WalSafety::Safe, WalSafety::Network, WalSafety::HostShared, WalSafety::Fuse, WalSafety::Unknown];
        let names: Vec<&str> = all.iter().map(|w| w.as_str()).collect();
        assert_eq!(names, ["safe", "network", "host-shared", "fuse", "unknown"]);
    }
}
