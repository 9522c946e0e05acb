//! Reading files safely and writing them all or nothing.
//!
//! Reading: only regular files (a FIFO, a device or a directory is refused without blocking on
//! it), at most a configurable number of bytes ([`ReadLimits`]), to end of file.
//!
//! Writing: through a uniquely named temporary file beside the target and a rename, so that a
//! failure leaves the old file (or none) and never a partial one, and concurrent writers never
//! share a temporary file.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// What the file readers accept: regular files of at most `max_bytes`; and what a model may make
/// the loader compute: at most `max_folded_bytes` of values folded from an `.onnx` graph's
/// constants (each op's result, held as 8-byte elements).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimits {
    pub max_bytes: u64,
    pub max_folded_bytes: u64,
}

impl ReadLimits {
    /// Files up to 16 GiB (far above any LSTM's weights or a sequence anyone feeds in one call,
    /// far below what a runaway read of an endless file would reach), and 512 MiB of folded
    /// values: folded weights of 64 million parameters, while a hostile graph that multiplies a
    /// small constant stops at a few hundred MB.
    pub const DEFAULT: ReadLimits = ReadLimits {
        max_bytes: 16 << 30,
        max_folded_bytes: 512 << 20,
    };

    /// The default limits with files of at most `max_bytes`.
    pub const fn with_max_bytes(max_bytes: u64) -> ReadLimits {
        ReadLimits {
            max_bytes,
            ..ReadLimits::DEFAULT
        }
    }
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits::DEFAULT
    }
}

/// Open `path` for reading if it is a regular file of at most `limits.max_bytes`; returns the
/// file and its length. Opening does not block on a FIFO.
pub(crate) fn open_regular(path: &Path, limits: ReadLimits) -> Result<(File, u64)> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| Error::io(path, e))?;
    regular(file, path, limits)
}

/// `file` (opened from `path`) if it is a regular file of at most `limits.max_bytes`, with its
/// length.
pub(crate) fn regular(file: File, path: &Path, limits: ReadLimits) -> Result<(File, u64)> {
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a FIFO, socket or device)"
        };
        return Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{kind}; only regular files are read"),
            ),
        ));
    }
    if meta.len() > limits.max_bytes {
        return Err(Error::FileTooLarge {
            path: path.into(),
            bytes: meta.len(),
            limit: limits.max_bytes,
        });
    }
    Ok((file, meta.len()))
}

/// Open `relative` (plain components only) beneath the folder `dir`, one component at a time
/// from the folder's descriptor, following no symbolic link (`O_NOFOLLOW`): what is opened is
/// inside the folder by construction, and no path is resolved twice. Then as
/// [`open_regular`]. A symbolic link on the way is an `ELOOP` (or `ENOTDIR`) error.
#[cfg(unix)]
pub(crate) fn open_beneath(dir: &Path, relative: &Path, limits: ReadLimits) -> Result<(File, u64)> {
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    let path = dir.join(relative);
    let open_at = |at: &OwnedFd, name: &std::ffi::OsStr, flags: libc::c_int| -> std::io::Result<OwnedFd> {
        let name = CString::new(name.as_bytes()).map_err(|_| std::io::ErrorKind::InvalidInput)?;
        // SAFETY: `at` is an open descriptor and `name` a NUL-terminated string, both alive for
        // the call; a non-negative result is a new descriptor this function then owns.
        let fd = unsafe { libc::openat(at.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by openat and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    };
    let folder = File::open(dir).map_err(|e| Error::io(dir, e))?;
    let mut at = OwnedFd::from(folder);
    let parts: Vec<&std::ffi::OsStr> = relative.iter().collect();
    for (i, part) in parts.iter().enumerate() {
        let flags = if i + 1 == parts.len() {
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK
        } else {
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_DIRECTORY
        };
        at = open_at(&at, part, flags).map_err(|e| Error::io(&path, e))?;
    }
    regular(File::from(at), &path, limits)
}

/// The whole of a regular file of at most `limits.max_bytes`.
pub(crate) fn read_regular(path: &Path, limits: ReadLimits) -> Result<Vec<u8>> {
    let (file, len) = open_regular(path, limits)?;
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(len as usize)
        .map_err(|_| Error::HostAllocation {
            what: format!("the contents of {}", path.display()),
            bytes: len,
        })?;
    // One byte past the limit tells a file that grew while we read it.
    file.take(limits.max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limits.max_bytes {
        return Err(Error::FileTooLarge {
            path: path.into(),
            bytes: bytes.len() as u64,
            limit: limits.max_bytes,
        });
    }
    Ok(bytes)
}

/// A name beside `path` no other writer (in this process or another) uses: `.NAME.PID.N.partial`.
pub(crate) fn unique_sibling(path: &Path, suffix: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy());
    path.with_file_name(format!(".{name}.{}.{n}.{suffix}", std::process::id()))
}

/// Write `bytes` to `path` through a temporary file beside it and a rename, so that a failure
/// leaves the old file (or none) and never a partial one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = unique_sibling(path, "partial");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(path, e)
        })
}

/// The steps [`replace_dir`] takes on the file system, so that tests can make any of them fail.
pub(crate) trait DirSteps {
    /// Swap the entries `a` and `b` atomically.
    fn exchange(&self, a: &Path, b: &Path) -> std::io::Result<()>;
    /// `std::fs::rename`.
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()>;
}

/// The real file system.
pub(crate) struct Fs;

impl DirSteps for Fs {
    #[cfg(target_os = "linux")]
    fn exchange(&self, a: &Path, b: &Path) -> std::io::Result<()> {
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| {
            std::ffi::CString::new(p.as_os_str().as_bytes())
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "a NUL in the path"))
        };
        let (a, b) = (c(a)?, c(b)?);
        // SAFETY: both paths are NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn exchange(&self, _: &Path, _: &Path) -> std::io::Result<()> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        std::fs::rename(from, to)
    }
}

/// Replace the directory `dir`, which holds a set of files named `names`, by a new set that
/// `write` makes in a directory it is given, all or nothing: afterwards `dir` holds either the
/// complete old set (or nothing, if it did not exist) or the complete new one.
///
/// The new set is written into a fresh, uniquely named sibling (`.DIR.PID.N.partial`) and then
/// swapped with `dir` in one atomic step: `renameat2(RENAME_EXCHANGE)` on Linux, or a rename
/// where `dir` does not exist yet. The old set, now in the sibling, is removed. Where the
/// exchange is not available (other systems, file systems without it), `dir` is first renamed
/// aside, which leaves a moment without `dir`. Concurrent writers each leave a complete set (the
/// last swap wins). A writer killed midway leaves `dir` whole and at most a hidden sibling.
///
/// `dir` must hold nothing but files of `names` (anything else would be lost with the old set,
/// so it is refused before anything is written) and must not be a symbolic link.
pub(crate) fn replace_dir(
    dir: &Path,
    names: &[&str],
    write: impl FnOnce(&Path) -> Result<()>,
    steps: &dyn DirSteps,
) -> Result<()> {
    check_set_dir(dir, names)?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let staging = unique_sibling(dir, "partial");
    std::fs::create_dir(&staging).map_err(|e| Error::io(&staging, e))?;
    let result = write(&staging).and_then(|()| install(dir, &staging, steps));
    // On success the sibling holds the old set (or nothing); on failure the new one.
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// Refuse a `dir` that holds anything but regular files named in `names`.
fn check_set_dir(dir: &Path, names: &[&str]) -> Result<()> {
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let refuse = |message: String| {
        Err(Error::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, message),
        ))
    };
    if meta.file_type().is_symlink() {
        return refuse("is a symbolic link; give the output directory itself".into());
    }
    if !meta.is_dir() {
        return refuse("exists and is not a directory".into());
    }
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if !is_file || !names.iter().any(|n| name == *n) {
            return refuse(format!(
                "holds {}, which is not one of the output files ({}); the whole directory is replaced, \
                 so give a new or empty directory",
                name.to_string_lossy(),
                names.join(", ")
            ));
        }
    }
    Ok(())
}

/// Swap `staging` in as `dir`.
fn install(dir: &Path, staging: &Path, steps: &dyn DirSteps) -> Result<()> {
    use std::io::ErrorKind;
    // Another writer may create or replace `dir` between our steps: a few tries settle it.
    for _ in 0..16 {
        match steps.exchange(staging, dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => match steps.rename(staging, dir) {
                Ok(()) => return Ok(()),
                // Created meanwhile, not empty: exchange with it.
                Err(e) if matches!(e.kind(), ErrorKind::AlreadyExists | ErrorKind::DirectoryNotEmpty) => {}
                Err(e) => return Err(Error::io(dir, e)),
            },
            Err(e) if exchange_unsupported(&e) => {
                return install_by_renames(dir, staging, steps);
            }
            Err(e) => return Err(Error::io(dir, e)),
        }
    }
    Err(Error::io(
        dir,
        std::io::Error::other("other writers kept replacing it; gave up after 16 tries"),
    ))
}

/// Whether the file system or kernel has no atomic exchange (then `dir` is swapped by renames).
fn exchange_unsupported(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
        return true;
    }
    e.kind() == std::io::ErrorKind::Unsupported
}

/// Without an atomic exchange: `dir` aside, `staging` in, the old set back if that fails.
fn install_by_renames(dir: &Path, staging: &Path, steps: &dyn DirSteps) -> Result<()> {
    let aside = unique_sibling(dir, "old");
    let had_dir = match steps.rename(dir, &aside) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(Error::io(dir, e)),
    };
    match steps.rename(staging, dir) {
        Ok(()) => {
            let _ = std::fs::remove_dir_all(&aside);
            Ok(())
        }
        Err(e) => {
            if had_dir {
                let _ = steps.rename(&aside, dir);
            }
            Err(Error::io(dir, e))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    const NAMES: [&str; 3] = ["y.npy", "h_n.npy", "c_n.npy"];

    /// The real steps, with `exchange` failing with an OS error code, or the n-th `rename`
    /// failing with EIO.
    struct Failing {
        fail_exchange: Option<i32>,
        fail_rename_call: Option<usize>,
        renames: Cell<usize>,
    }

    impl DirSteps for Failing {
        fn exchange(&self, a: &Path, b: &Path) -> std::io::Result<()> {
            match self.fail_exchange {
                Some(code) => Err(std::io::Error::from_raw_os_error(code)),
                None => Fs.exchange(a, b),
            }
        }

        fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
            let n = self.renames.get();
            self.renames.set(n + 1);
            if self.fail_rename_call == Some(n) {
                return Err(std::io::Error::from_raw_os_error(libc::EIO));
            }
            Fs.rename(from, to)
        }
    }

    fn steps(fail_exchange: Option<i32>, fail_rename_call: Option<usize>) -> Failing {
        Failing {
            fail_exchange,
            fail_rename_call,
            renames: Cell::new(0),
        }
    }

    fn write_set(tag: &str) -> impl FnOnce(&Path) -> Result<()> + '_ {
        move |dir: &Path| {
            for name in NAMES {
                std::fs::write(dir.join(name), format!("{tag} {name}")).map_err(|e| Error::io(dir, e))?;
            }
            Ok(())
        }
    }

    /// The set `dir` holds: the tag all three files carry, or a description of a mix.
    fn set_of(dir: &Path) -> Option<String> {
        if !dir.exists() {
            return None;
        }
        let tags: Vec<String> = NAMES
            .iter()
            .map(|name| {
                let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|_| "missing".into());
                text.split(' ').next().unwrap().to_string()
            })
            .collect();
        let mut entries: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        entries.sort();
        let mut expected: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
        expected.sort();
        assert_eq!(entries, expected, "nothing but the set in {}", dir.display());
        assert!(tags.iter().all(|t| *t == tags[0]), "a mixed set: {tags:?}");
        Some(tags[0].clone())
    }

    /// Nothing is left beside `dir`: no partial or old siblings.
    fn no_siblings(dir: &Path) {
        let parent = dir.parent().unwrap();
        let others: Vec<_> = std::fs::read_dir(parent)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| *n != *dir.file_name().unwrap())
            .collect();
        assert!(others.is_empty(), "left beside the output: {others:?}");
    }

    #[test]
    fn a_new_set_replaces_the_old_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        replace_dir(&dir, &NAMES, write_set("first"), &Fs).unwrap();
        assert_eq!(set_of(&dir).as_deref(), Some("first"));
        replace_dir(&dir, &NAMES, write_set("second"), &Fs).unwrap();
        assert_eq!(set_of(&dir).as_deref(), Some("second"));
        no_siblings(&dir);
    }

    /// A failure at any step leaves the old set (or no directory) and no hidden siblings.
    #[test]
    fn a_failure_at_any_step_leaves_the_old_set() {
        for fresh in [false, true] {
            type Write = Box<dyn FnOnce(&Path) -> Result<()>>;
            let cases: Vec<(&str, Failing, Write)> = vec![
                (
                    "exchange EIO",
                    steps(Some(libc::EIO), None),
                    Box::new(write_set("new")),
                ),
                (
                    "second file",
                    steps(None, None),
                    Box::new(|d: &Path| {
                        std::fs::write(d.join(NAMES[0]), "new").unwrap();
                        Err(Error::io(
                            d.join(NAMES[1]),
                            std::io::Error::from_raw_os_error(libc::EIO),
                        ))
                    }),
                ),
                // Without an exchange: the move aside fails...
                (
                    "aside",
                    steps(Some(libc::EINVAL), Some(0)),
                    Box::new(write_set("new")),
                ),
                // ...or the move in, after the old set went aside (it comes back).
                (
                    "move in",
                    steps(Some(libc::EINVAL), Some(1)),
                    Box::new(write_set("new")),
                ),
                // Where `dir` does not exist, the first rename creates it.
                ("create", steps(None, Some(0)), Box::new(write_set("new"))),
            ];
            for (what, steps, write) in cases {
                let tmp = tempfile::tempdir().unwrap();
                let dir = tmp.path().join("out");
                if !fresh {
                    replace_dir(&dir, &NAMES, write_set("old"), &Fs).unwrap();
                }
                let result = replace_dir(&dir, &NAMES, write, &steps);
                let expected = if fresh { None } else { Some("old".to_string()) };
                // The create case fails only where there was nothing to exchange with.
                if what == "create" && !fresh {
                    result.unwrap();
                    assert_eq!(set_of(&dir).as_deref(), Some("new"), "{what}");
                } else {
                    assert!(result.is_err(), "{what} fresh={fresh}");
                    assert_eq!(set_of(&dir), expected, "{what} fresh={fresh}");
                }
                no_siblings(&dir);
            }
        }
    }

    #[test]
    fn without_an_exchange_renames_replace_the_set() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        replace_dir(&dir, &NAMES, write_set("old"), &steps(Some(libc::EINVAL), None)).unwrap();
        replace_dir(&dir, &NAMES, write_set("new"), &steps(Some(libc::EINVAL), None)).unwrap();
        assert_eq!(set_of(&dir).as_deref(), Some("new"));
        no_siblings(&dir);
    }

    /// Other entries, an output name that is a directory and a symbolic link are refused before
    /// anything is written, and stay as they were.
    #[test]
    fn a_directory_holding_anything_else_is_refused_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        let e = replace_dir(&dir, &NAMES, write_set("new"), &Fs).unwrap_err();
        assert!(e.to_string().contains("notes.txt"), "{e}");
        assert_eq!(std::fs::read_to_string(dir.join("notes.txt")).unwrap(), "mine");

        let dir = tmp.path().join("out2");
        replace_dir(&dir, &NAMES, write_set("old"), &Fs).unwrap();
        std::fs::remove_file(dir.join("h_n.npy")).unwrap();
        std::fs::create_dir(dir.join("h_n.npy")).unwrap();
        std::fs::write(dir.join("h_n.npy").join("keep"), "kept").unwrap();
        assert!(replace_dir(&dir, &NAMES, write_set("new"), &Fs).is_err());
        assert_eq!(std::fs::read_to_string(dir.join("h_n.npy/keep")).unwrap(), "kept");
        assert_eq!(std::fs::read_to_string(dir.join("y.npy")).unwrap(), "old y.npy");

        #[cfg(unix)]
        {
            let link = tmp.path().join("link");
            std::os::unix::fs::symlink(tmp.path().join("out"), &link).unwrap();
            assert!(replace_dir(&link, &NAMES, write_set("new"), &Fs).is_err());
        }
    }

    #[test]
    fn only_regular_files_are_read_within_the_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        std::fs::write(&file, vec![7u8; 100]).unwrap();
        assert_eq!(
            read_regular(&file, ReadLimits::with_max_bytes(100))
                .unwrap()
                .len(),
            100
        );
        assert!(matches!(
            read_regular(&file, ReadLimits::with_max_bytes(99)),
            Err(Error::FileTooLarge {
                bytes: 100,
                limit: 99,
                ..
            })
        ));
        assert!(
            read_regular(tmp.path(), ReadLimits::DEFAULT).is_err(),
            "a directory"
        );
        #[cfg(unix)]
        {
            assert!(read_regular(Path::new("/dev/zero"), ReadLimits::DEFAULT).is_err());
            let fifo = tmp.path().join("fifo");
            let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            // Refused at once, without waiting for a writer.
            assert!(read_regular(&fifo, ReadLimits::DEFAULT).is_err());
        }
    }
}
