//! Keeps secrets out of error details and descriptions: object_store errors
//! may quote request URLs, and a URL (`https://`, `s3://`, …) can carry a SAS
//! token in its query or credentials in its user-info part.

/// `text` with every URL's user-info and query replaced by `<redacted>`.
pub(crate) fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = next_url(rest) {
        out.push_str(&rest[..start]);
        let url_and_after = &rest[start..];
        let end = url_and_after
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | ','))
            .unwrap_or(url_and_after.len());
        out.push_str(&redact_url(&url_and_after[..end]));
        rest = &url_and_after[end..];
    }
    out.push_str(rest);
    out
}

/// Where the next `scheme://` URL in `text` starts.
fn next_url(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let sep = from + found;
        let start = text[..sep]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        if start < sep {
            return Some(start);
        }
        from = sep + 3;
    }
    None
}

fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let (scheme, after) = url.split_at(scheme_end);
    let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, path_and_query) = after.split_at(authority_end);
    let host = match authority.rfind('@') {
        Some(at) => format!("<redacted>@{}", &authority[at + 1..]),
        None => authority.to_owned(),
    };
    let path = match path_and_query.find('?') {
        Some(q) => format!("{}?<redacted>", &path_and_query[..q]),
        None => path_and_query.to_owned(),
    };
    format!("{scheme}{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn queries_and_user_info_are_removed() {
        let text = "error sending request for url (https://acct.blob.core.windows.net/c/vault/todo/X.json?sv=2021&sig=SECRET): timed out";
        let clean = redact(text);
        assert!(!clean.contains("SECRET"), "{clean}");
        assert!(
            clean.contains("https://acct.blob.core.windows.net/c/vault/todo/X.json?<redacted>")
        );
        assert!(clean.ends_with("): timed out"), "{clean}");
        let with_user = redact("GET http://user:pa55@127.0.0.1:9000/bucket failed");
        assert_eq!(
            with_user,
            "GET http://<redacted>@127.0.0.1:9000/bucket failed"
        );
        assert_eq!(redact("no url here"), "no url here");
        assert_eq!(
            redact("s3://AKIA:s3cret@bucket/prefix and az://c/p?sig=x"),
            "s3://<redacted>@bucket/prefix and az://c/p?<redacted>"
        );
    }
}
