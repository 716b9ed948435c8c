//! Scopes: the permissions a key holds. Roles are named scope sets; a key
//! may be narrowed to fewer scopes than its role has, never widened.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Read documents, versions, chunks and jobs.
    DocumentsRead,
    /// Create, change, delete documents; upload; retry jobs.
    DocumentsWrite,
    /// Search, prepare chat context, embeddings.
    Search,
    /// Ask questions (LLM cost), conversations, LLM usage.
    Chat,
    /// Run LLM tools (LLM cost).
    Tools,
    /// Keys, settings, the sweep: the tenant's administration.
    Admin,
}

impl Scope {
    /// Every scope, in wire order.
    pub const ALL: [Scope; 6] = [
        Scope::DocumentsRead,
        Scope::DocumentsWrite,
        Scope::Search,
        Scope::Chat,
        Scope::Tools,
        Scope::Admin,
    ];

    /// The wire name (`documents:read`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::DocumentsRead => "documents:read",
            Scope::DocumentsWrite => "documents:write",
            Scope::Search => "search",
            Scope::Chat => "chat",
            Scope::Tools => "tools",
            Scope::Admin => "admin",
        }
    }

    /// Parse a wire name.
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Scope, D::Error> {
        let name = String::deserialize(d)?;
        Scope::parse(&name).ok_or_else(|| {
            let names: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
            serde::de::Error::custom(format!(
                "unknown scope {name:?}; scopes are {}",
                names.join(", ")
            ))
        })
    }
}

/// A set of scopes.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u8);

impl Scopes {
    /// Every scope.
    pub const ALL: Scopes = Scopes(0b11_1111);

    /// The set of `scopes`.
    pub fn of(scopes: &[Scope]) -> Scopes {
        Scopes(scopes.iter().fold(0, |acc, s| acc | s.bit()))
    }

    /// Whether `scope` is in the set.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// The scopes in both sets.
    pub fn intersect(self, other: Scopes) -> Scopes {
        Scopes(self.0 & other.0)
    }

    /// Whether every scope of `self` is in `other`.
    pub fn is_subset(self, other: Scopes) -> bool {
        self.0 & !other.0 == 0
    }

    /// The set without `scope`.
    pub fn without(self, scope: Scope) -> Scopes {
        Scopes(self.0 & !scope.bit())
    }

    /// The scopes, in wire order.
    pub fn to_vec(self) -> Vec<Scope> {
        Scope::ALL
            .into_iter()
            .filter(|s| self.contains(*s))
            .collect()
    }

    /// Stored form: names separated by spaces (as OAuth writes scopes).
    pub fn to_text(self) -> String {
        let names: Vec<&str> = self.to_vec().iter().map(|s| s.as_str()).collect();
        names.join(" ")
    }

    /// Parse the stored form; unknown names are an error.
    pub fn from_text(text: &str) -> Option<Scopes> {
        text.split_whitespace()
            .map(Scope::parse)
            .collect::<Option<Vec<_>>>()
            .map(|v| Scopes::of(&v))
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.to_vec()).finish()
    }
}

impl Serialize for Scopes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_vec().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Scopes, D::Error> {
        Ok(Scopes::of(&Vec::<Scope>::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_round_trip_through_their_stored_and_wire_forms() {
        let s = Scopes::of(&[Scope::Chat, Scope::DocumentsRead]);
        assert_eq!(s.to_text(), "documents:read chat");
        assert_eq!(Scopes::from_text(&s.to_text()), Some(s));
        assert_eq!(Scopes::from_text("documents:read root"), None);
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"["documents:read","chat"]"#
        );
        let back: Scopes = serde_json::from_str(r#"["chat","documents:read"]"#).unwrap();
        assert_eq!(back, s);
        let err = serde_json::from_str::<Scopes>(r#"["root"]"#).unwrap_err();
        assert!(err.to_string().contains("unknown scope \"root\""), "{err}");
        assert!(s.is_subset(Scopes::ALL) && !Scopes::ALL.is_subset(s));
        assert!(!Scopes::ALL.without(Scope::Admin).contains(Scope::Admin));
        assert_eq!(Scopes::ALL.to_vec(), Scope::ALL);
    }
}
