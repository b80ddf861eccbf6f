//! Bootstrap addresses as users write them on a command line: `ADDR` or `@FILE`, where FILE
//! holds one address a line (blank lines and `#` comments ignored), as `repy testbed up`
//! writes `DIR/bootstrap.txt`.

/// The addresses with each `@FILE` replaced by its lines. Errors name the file; an empty
/// result is an error when `required`.
pub fn expand(addresses: &[String], required: bool) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for address in addresses {
        match address.strip_prefix('@') {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read bootstrap file '{path}': {e}"))?;
                let before = out.len();
                out.extend(text.lines().map(|l| l.split('#').next().unwrap_or("").trim()).filter(|l| !l.is_empty()).map(str::to_string));
                if out.len() == before {
                    return Err(format!("bootstrap file '{path}' lists no address"));
                }
            }
            None => out.push(address.trim().to_string()),
        }
    }
    if required && out.is_empty() {
        return Err("no bootstrap address given".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_addresses_mix() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bootstrap.txt");
        std::fs::write(&file, "# testbed\n127.0.0.1:4001\n\n/ip4/127.0.0.1/tcp/4002  # second\n").unwrap();
        let at = format!("@{}", file.display());
        let out = expand(&["10.0.0.1:9".into(), at.clone()], true).unwrap();
        assert_eq!(out, ["10.0.0.1:9", "127.0.0.1:4001", "/ip4/127.0.0.1/tcp/4002"]);
        assert_eq!(expand(&[], false).unwrap(), Vec::<String>::new());
        assert_eq!(expand(&[], true).unwrap_err(), "no bootstrap address given");
        let missing = format!("@{}", dir.path().join("nope.txt").display());
        assert!(expand(&[missing], false).unwrap_err().starts_with("cannot read bootstrap file"));
        std::fs::write(&file, "# nothing\n").unwrap();
        assert!(expand(&[at], false).unwrap_err().contains("lists no address"));
    }
}
