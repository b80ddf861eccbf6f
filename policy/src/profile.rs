//! Built-in restrictions profiles (restrictions.md §6), used when `repy run` gets no
//! `--restrictions`.

/// The profile `default`, byte for byte as `repy restrictions show default` prints it.
pub const DEFAULT_PROFILE: &str = r#"# Built-in restrictions profile "default" (local development)
resource cpu 0.5
resource memory 100000000        # 100 MB
resource diskused 100000000      # 100 MB
resource events 50
resource filewrite 10000000      # 10 MB/s
resource fileread 10000000
resource filesopened 50
resource insockets 50
resource outsockets 50
resource netsend 1000000         # 1 MB/s
resource netrecv 1000000
resource loopsend 10000000       # 10 MB/s
resource looprecv 10000000
resource lograte 1000000         # 1 MB/s of output
resource random 10000
resource messport 1024-65535
resource connport 1024-65535

call open allow
call file.__init__ allow
call file.close allow
call file.flush allow
call file.next allow
call file.read allow
call file.readline allow
call file.readlines allow
call file.seek allow
call file.write allow
call file.writelines allow
call listdir allow
call removefile allow
call gethostbyname_ex allow
call getmyip allow
call sendmess allow
call recvmess allow
call openconn allow
call waitforconn allow
call stopcomm allow
call socket.close allow
call socket.recv allow
call socket.send allow
call settimer allow
call canceltimer allow
call sleep allow
call exitall allow
call log.write allow
call log.writelines allow
call randomfloat allow
call getruntime allow
call getlock allow
call get_thread_name allow
call VirtualNamespace allow
"#;

const PROFILES: &[(&str, &str)] = &[("default", DEFAULT_PROFILE)];

/// The text of a built-in profile.
pub fn builtin_profile(name: &str) -> Option<&'static str> {
    PROFILES.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

/// Names of the built-in profiles, for messages listing them.
pub fn builtin_profile_names() -> Vec<&'static str> {
    PROFILES.iter().map(|(n, _)| *n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse, Resource};

    #[test]
    fn default_profile_has_the_spec_shape() {
        assert!(DEFAULT_PROFILE.starts_with("# Built-in restrictions profile \"default\" (local development)\nresource cpu 0.5\n"));
        assert!(DEFAULT_PROFILE.ends_with("call VirtualNamespace allow\n"));
        assert!(!DEFAULT_PROFILE.ends_with("\n\n"));
        assert!(DEFAULT_PROFILE.contains("resource memory 100000000        # 100 MB\n"));
        assert_eq!(DEFAULT_PROFILE.lines().count(), 53);
        assert_eq!(DEFAULT_PROFILE.lines().filter(|l| l.starts_with("call ")).count(), 34);
    }

    #[test]
    fn default_profile_parses_and_allows_everything() {
        let r = parse(DEFAULT_PROFILE).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(r.limit(Resource::Cpu), 0.5);
        assert_eq!(r.limit(Resource::Events), 50.0);
        assert_eq!(r.limit(Resource::Random), 10000.0);
        assert_eq!(r.limit(Resource::Loopsend), 10_000_000.0);
        for res in [Resource::Messport, Resource::Connport] {
            assert!(!r.ports(res).contains(1023) && r.ports(res).contains(1024) && r.ports(res).contains(65535));
        }
        for call in crate::CALL_NAMES {
            assert!(r.decide(call, &["x"]).is_allowed(), "{call}");
        }
    }

    #[test]
    fn default_profile_round_trips_through_canonical_text() {
        let r = parse(DEFAULT_PROFILE).unwrap();
        let canonical = r.to_canonical_text();
        let again = parse(&canonical).unwrap();
        assert_eq!(again.to_canonical_text(), canonical);
        for &res in Resource::ALL {
            assert_eq!(again.value(res), r.value(res), "{res}");
            assert_eq!(again.ports(res), r.ports(res), "{res}");
        }
        let texts = |r: &crate::Restrictions| r.calls().iter().map(|c| c.text.clone()).collect::<Vec<_>>();
        assert_eq!(texts(&again), texts(&r));
        assert!(canonical.contains("resource messport 1024-65535\nresource connport 1024-65535\n\ncall open allow\n"));
    }

    #[test]
    fn lookup_by_name() {
        assert_eq!(builtin_profile("default"), Some(DEFAULT_PROFILE));
        assert_eq!(builtin_profile("Default"), None);
        assert_eq!(builtin_profile_names(), ["default"]);
    }
}
