//! The nodes file: one `HOST:PORT` a line; blank lines and `#` comments are ignored.

use std::{collections::HashMap, path::Path};

/// Reads and checks a nodes file; errors name the file and the line.
pub fn read_nodes_file(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read nodes file '{}': {e}", path.display()))?;
    parse_nodes(&text, &path.display().to_string())
}

/// Parses the text of a nodes file named `origin` (for messages).
pub fn parse_nodes(text: &str, origin: &str) -> Result<Vec<String>, String> {
    let mut nodes = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        check_address(line).map_err(|why| format!("{origin}:{number}: '{line}' is not a node address: {why} (expected HOST:PORT)"))?;
        if let Some(first) = first_line.get(line) {
            return Err(format!("{origin}:{number}: node '{line}' is listed twice (first on line {first})"));
        }
        first_line.insert(line.to_string(), number);
        nodes.push(line.to_string());
    }
    if nodes.is_empty() {
        return Err(format!("{origin} lists no nodes (expected one HOST:PORT a line)"));
    }
    Ok(nodes)
}

/// `HOST:PORT` with a non-empty host without spaces and a port from 1 to 65535
/// (`[IPv6]:PORT` for IPv6 addresses).
pub fn check_address(text: &str) -> Result<(), String> {
    let (host, port) = text.rsplit_once(':').ok_or("no ':PORT'")?;
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if host.chars().any(char::is_whitespace) {
        return Err("it contains a space".into());
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err("an IPv6 address must be written in brackets, like [::1]:1224".into());
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!("port '{port}' is not a number from 1 to 65535")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_comments_and_blanks() {
        let nodes = parse_nodes("# my nodes\n127.0.0.1:1224\n\n  example.org:63000  # far away\n[::1]:5\n", "n.txt").unwrap();
        assert_eq!(nodes, ["127.0.0.1:1224", "example.org:63000", "[::1]:5"]);
    }

    #[test]
    fn errors_name_file_line_and_text() {
        let e = parse_nodes("127.0.0.1:1224\nlocalhost\n", "n.txt").unwrap_err();
        assert!(e.starts_with("n.txt:2: 'localhost' is not a node address: no ':PORT'"), "{e}");
        let e = parse_nodes("a:99999\n", "n.txt").unwrap_err();
        assert!(e.contains("n.txt:1:") && e.contains("port '99999'"), "{e}");
        let e = parse_nodes("a:1\nb:2\na:1\n", "n.txt").unwrap_err();
        assert!(e.contains("n.txt:3: node 'a:1' is listed twice (first on line 1)"), "{e}");
        assert!(parse_nodes("# nothing\n\n", "n.txt").unwrap_err().contains("lists no nodes"));
        assert!(parse_nodes("::1:5\n", "n.txt").unwrap_err().contains("brackets"));
        assert!(parse_nodes("my host:5\n", "n.txt").unwrap_err().contains("space"));
    }
}
