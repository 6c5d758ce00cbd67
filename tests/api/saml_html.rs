//! Reading the test IdP's HTML as a browser without JavaScript does: a form's action, and the
//! fields it submits (named inputs and each select's chosen option), character references
//! decoded (Handlebars escapes `=` in base64 values as `&#x3D;`).

/// The `action` of the first form of a page.
pub fn form_action(html: &str) -> Option<String> {
    let at = html.find("<form")?;
    let tag = &html[at..at + html[at..].find('>')?];
    attrs(tag)
        .into_iter()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v)
}

/// What a browser submits from the form whose action is `action`: its named inputs (not its
/// buttons) with their values, and each select's selected (else first) option.
pub fn form_fields(html: &str, action: &str) -> Option<Vec<(String, String)>> {
    let start = html.find(&format!("action=\"{action}\""))?;
    let body = &html[start..];
    let body = &body[..body.find("</form>")?];
    let mut fields = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.find('<') {
        rest = &rest[at..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        let a = attrs(tag);
        let get = |k: &str| a.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if tag.starts_with("<input") {
            let kind = get("type").unwrap_or_default();
            if let (Some(name), false) = (get("name"), matches!(kind.as_str(), "submit" | "button"))
            {
                fields.push((name, get("value").unwrap_or_default()));
            }
        } else if tag.starts_with("<select") {
            let close = rest.find("</select>").unwrap_or(rest.len());
            let options: Vec<&str> = rest[..close].split("<option").skip(1).collect();
            let chosen = options
                .iter()
                .find(|o| o[..o.find('>').unwrap_or(0)].contains("selected"))
                .or(options.first());
            if let (Some(name), Some(option)) = (get("name"), chosen) {
                let text = &option[option.find('>').map_or(0, |i| i + 1)..];
                let text = text.split('<').next().unwrap_or("").trim();
                fields.push((name, unescape(text)));
            }
        }
        rest = &rest[end.min(rest.len())..];
        if rest.is_empty() {
            break;
        }
        rest = &rest[1..];
    }
    Some(fields)
}

/// The attributes of a tag (`<name k="v" k2='v2' flag>`), values unescaped.
fn attrs(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let s = tag.trim_start_matches('<');
    let mut chars = s.char_indices().peekable();
    // Skip the tag name.
    while chars.next_if(|(_, c)| !c.is_whitespace()).is_some() {}
    loop {
        while chars
            .next_if(|(_, c)| c.is_whitespace() || *c == '/')
            .is_some()
        {}
        let Some(&(k0, _)) = chars.peek() else { break };
        let mut k1 = k0;
        while let Some((i, c)) = chars.next_if(|(_, c)| !c.is_whitespace() && *c != '=') {
            k1 = i + c.len_utf8();
        }
        let key = s[k0..k1].to_ascii_lowercase();
        let mut value = String::new();
        if chars.next_if(|(_, c)| *c == '=').is_some() {
            let quote = chars
                .next_if(|(_, c)| *c == '"' || *c == '\'')
                .map(|(_, c)| c);
            for (_, c) in chars.by_ref() {
                if Some(c) == quote || (quote.is_none() && c.is_whitespace()) {
                    break;
                }
                value.push(c);
            }
        }
        if key.is_empty() {
            break;
        }
        out.push((key, unescape(&value)));
    }
    out
}

/// HTML character references (what Handlebars escapes: `& < > " ' \` =`, and numeric ones).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(semi) = rest.find(';').filter(|&i| i < 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ if entity.starts_with("#x") || entity.starts_with("#X") => {
                u32::from_str_radix(&entity[2..], 16)
                    .ok()
                    .and_then(char::from_u32)
            }
            _ if entity.starts_with('#') => entity[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn html_forms_are_read_as_a_browser_reads_them() {
    let page = r#"<form action="/signin" method="post"><input name="a" value="x&#x3D;&amp;y">
        <select name="s"><option>first</option><option>second</option></select>
        <button type="submit">go</button><input type="submit" name="go" value="Go">
        <input name='_h' type='hidden' value='eyJ&#x3D;'></form>"#;
    assert_eq!(
        form_fields(page, "/signin").unwrap(),
        vec![
            ("a".to_string(), "x=&y".to_string()),
            ("s".into(), "first".into()),
            ("_h".into(), "eyJ=".into())
        ]
    );
    assert_eq!(form_action(page).as_deref(), Some("/signin"));
}
