//! `/api/docs`: the API reference as one server-rendered page, made from
//! the same OpenAPI document as `/api/v1/openapi.json`. No script and
//! nothing from another origin, so it reads the same on an air-gapped
//! appliance as anywhere.

use std::sync::OnceLock;

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::ops::OpenApiJson;

#[derive(Template)]
#[template(path = "api_docs.html")]
struct DocsPage<'a> {
    css: &'a str,
    doc: &'a Reference,
}

/// The page's content, taken once from the document.
struct Reference {
    title: String,
    version: String,
    description: Prose,
    tags: Vec<Tag>,
    schemas: Vec<Schema>,
}

struct Tag {
    name: String,
    operations: Vec<Operation>,
}

struct Operation {
    anchor: String,
    method: String,
    path: String,
    summary: Prose,
    description: Prose,
    auth: String,
    parameters: Vec<Field>,
    body: Option<Body>,
    responses: Vec<Answer>,
}

struct Field {
    name: String,
    place: String,
    ty: Type,
    required: bool,
    description: Prose,
}

struct Body {
    content_type: String,
    ty: Type,
}

struct Answer {
    status: String,
    description: Prose,
    ty: Option<Type>,
}

struct Schema {
    name: String,
    description: Prose,
    fields: Vec<Field>,
    /// For a schema that is not an object: its type in words.
    other: Option<Type>,
}

/// A type in words, with the schema it names (for a link), if any.
struct Type {
    text: String,
    link: Option<String>,
}

pub async fn page(axum::Extension(json): axum::Extension<OpenApiJson>) -> Response {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    let doc = REFERENCE
        .get_or_init(|| reference(&serde_json::from_str(json.0.as_str()).unwrap_or(Value::Null)));
    crate::console::render(
        StatusCode::OK,
        &DocsPage {
            css: crate::console::assets::css_path(),
            doc,
        },
    )
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn reference(doc: &Value) -> Reference {
    let mut tags: Vec<Tag> = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            let Some(ops) = item.as_object() else {
                continue;
            };
            for (method, op) in ops {
                let tag = op["tags"][0].as_str().unwrap_or("other").to_owned();
                let operation = operation(path, method, op);
                match tags.iter_mut().find(|t| t.name == tag) {
                    Some(t) => t.operations.push(operation),
                    None => tags.push(Tag {
                        name: tag,
                        operations: vec![operation],
                    }),
                }
            }
        }
    }
    tags.sort_by(|a, b| a.name.cmp(&b.name));
    for t in &mut tags {
        t.operations
            .sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
    }
    let schemas = doc["components"]["schemas"]
        .as_object()
        .map(|m| m.iter().map(|(name, s)| schema(name, s)).collect())
        .unwrap_or_default();
    Reference {
        title: text(&doc["info"]["title"]),
        version: text(&doc["info"]["version"]),
        description: Prose::of(&text(&doc["info"]["description"])),
        tags,
        schemas,
    }
}

fn operation(path: &str, method: &str, op: &Value) -> Operation {
    let parameters = op["parameters"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| Field {
                    name: text(&p["name"]),
                    place: text(&p["in"]),
                    ty: type_of(&p["schema"]),
                    required: p["required"].as_bool().unwrap_or(false),
                    description: Prose::of(&text(&p["description"])),
                })
                .collect()
        })
        .unwrap_or_default();
    let body = op["requestBody"]["content"]
        .as_object()
        .and_then(|c| c.iter().next())
        .map(|(ct, media)| Body {
            content_type: ct.clone(),
            ty: type_of(&media["schema"]),
        });
    let mut responses: Vec<Answer> = op["responses"]
        .as_object()
        .map(|rs| {
            rs.iter()
                .map(|(status, r)| Answer {
                    status: status.clone(),
                    description: Prose::of(&text(&r["description"])),
                    ty: r["content"]
                        .as_object()
                        .and_then(|c| c.values().next())
                        .filter(|m| !m["schema"].is_null())
                        .map(|m| type_of(&m["schema"])),
                })
                .collect()
        })
        .unwrap_or_default();
    responses.sort_by(|a, b| a.status.cmp(&b.status));
    let auth = op["security"]
        .as_array()
        .map(|reqs| {
            let names: Vec<String> = reqs
                .iter()
                .filter_map(|r| r.as_object())
                .map(|r| match r.keys().next() {
                    Some(k) => k.clone(),
                    None => "none".into(),
                })
                .collect();
            names.join(" or ")
        })
        .unwrap_or_else(|| "none".into());
    Operation {
        anchor: anchor(method, path),
        method: method.to_uppercase(),
        path: path.to_owned(),
        summary: Prose::of(&text(&op["summary"])),
        description: {
            // utoipa repeats the summary as the description's first line.
            let d = text(&op["description"]);
            let s = text(&op["summary"]);
            Prose::of(d.strip_prefix(&s).unwrap_or(&d).trim())
        },
        auth,
        parameters,
        body,
        responses,
    }
}

/// `post /api/v1/users/{id}/move` → `post-api-v1-users-id-move`.
fn anchor(method: &str, path: &str) -> String {
    let mut out = method.to_owned();
    for part in path.split(|c: char| !c.is_ascii_alphanumeric()) {
        if !part.is_empty() {
            out.push('-');
            out.push_str(part);
        }
    }
    out
}

/// Text with its `code` spans marked, as the document's descriptions write
/// them.
pub struct Prose(Vec<(bool, String)>);

impl Prose {
    fn of(text: &str) -> Prose {
        Prose(
            text.split('`')
                .enumerate()
                .filter(|(_, s)| !s.is_empty())
                .map(|(i, s)| (i % 2 == 1, s.to_owned()))
                .collect(),
        )
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn schema(name: &str, s: &Value) -> Schema {
    let required: Vec<&str> = s["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let fields: Vec<Field> = s["properties"]
        .as_object()
        .map(|props| {
            props
                .iter()
                .map(|(n, p)| Field {
                    name: n.clone(),
                    place: String::new(),
                    ty: type_of(p),
                    required: required.contains(&n.as_str()),
                    description: Prose::of(&text(&p["description"])),
                })
                .collect()
        })
        .unwrap_or_default();
    Schema {
        name: name.to_owned(),
        description: Prose::of(&text(&s["description"])),
        other: fields.is_empty().then(|| type_of(s)),
        fields,
    }
}

/// A JSON Schema in a few words: `UserView`, `array of string`,
/// `string | null`, `"reader" | "scanner"`.
fn type_of(s: &Value) -> Type {
    if let Some(r) = s["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r).to_owned();
        return Type {
            text: name.clone(),
            link: Some(name),
        };
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(parts) = s[key].as_array() {
            let types: Vec<Type> = parts.iter().map(type_of).collect();
            let link = types.iter().find_map(|t| t.link.clone());
            let sep = if key == "allOf" { " & " } else { " | " };
            return Type {
                text: types
                    .iter()
                    .map(|t| t.text.as_str())
                    .collect::<Vec<_>>()
                    .join(sep),
                link,
            };
        }
    }
    if let Some(values) = s["enum"].as_array() {
        return Type {
            text: values
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(" | "),
            link: None,
        };
    }
    let kinds: Vec<String> = match &s["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let mut link = None;
    let words: Vec<String> = kinds
        .iter()
        .map(|k| match k.as_str() {
            "array" => {
                let item = type_of(&s["items"]);
                link = item.link;
                format!("array of {}", item.text)
            }
            "string" if s["format"].is_string() => format!("string ({})", text(&s["format"])),
            other => other.to_owned(),
        })
        .collect();
    Type {
        text: if words.is_empty() {
            "any".into()
        } else {
            words.join(" | ")
        },
        link,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_and_code_spans() {
        assert_eq!(
            anchor("post", "/api/v1/users/{id}/move"),
            "post-api-v1-users-id-move"
        );
        let p = Prose::of("see `next_cursor` here");
        assert_eq!(
            p.0,
            [
                (false, "see ".to_owned()),
                (true, "next_cursor".to_owned()),
                (false, " here".to_owned())
            ]
        );
    }

    #[test]
    fn types_read_as_words() {
        let t = type_of(&serde_json::json!({"type": ["string", "null"]}));
        assert_eq!(t.text, "string | null");
        let t = type_of(
            &serde_json::json!({"type": "array", "items": {"$ref": "#/components/schemas/UserView"}}),
        );
        assert_eq!(
            (t.text.as_str(), t.link.as_deref()),
            ("array of UserView", Some("UserView"))
        );
        let t = type_of(&serde_json::json!({"type": "string", "enum": ["reader", "scanner"]}));
        assert_eq!(t.text, "\"reader\" | \"scanner\"");
        assert_eq!(type_of(&serde_json::json!({})).text, "any");
    }
}
