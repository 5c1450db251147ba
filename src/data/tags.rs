//! How token-classification tag names read: a position prefix (`B-`, `I-`, `E-`, `S-`) and
//! an entity type (`B-PER` → `B`, `PER`). The one reading the alignment, the scores, the
//! Data panel's counts, the Playground's legend and the entity grouping share (the scores
//! re-export it as `train::scores::tag_parts`). Here in `data` because the alignment
//! (`inside_tags`) is its lowest user.

/// A tag's prefix (`'B'`, `'I'`, `'E'` or `'S'`) and its entity type: `("B", "PER")` for
/// `B-PER`. A tag of another form (`O`, a bare `PER`, `B-` without a type) has no prefix
/// and is returned whole.
pub fn tag_parts(tag: &str) -> (Option<char>, &str) {
    let mut chars = tag.chars();
    match (chars.next(), chars.next()) {
        (Some(prefix @ ('B' | 'I' | 'E' | 'S')), Some('-')) if tag.len() > 2 => {
            (Some(prefix), &tag[2..])
        }
        _ => (None, tag),
    }
}

/// The entity types the label names mention (`B-PER`, `I-PER`, `S-PER` → `PER`), in label
/// order, each once. Names without a prefix (`O`) name no type.
pub fn entity_types(label_names: &[String]) -> Vec<String> {
    let mut types: Vec<String> = Vec::new();
    for name in label_names {
        if let (Some(_), kind) = tag_parts(name)
            && !types.iter().any(|t| t == kind)
        {
            types.push(kind.to_string());
        }
    }
    types
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn prefixes_and_types() {
        assert_eq!(tag_parts("B-PER"), (Some('B'), "PER"));
        assert_eq!(tag_parts("I-B-X"), (Some('I'), "B-X"));
        assert_eq!(tag_parts("E-LOC"), (Some('E'), "LOC"));
        assert_eq!(tag_parts("S-MISC"), (Some('S'), "MISC"));
        for whole in ["O", "PER", "B-", "X-PER", "BPER", "", "É-X"] {
            assert_eq!(tag_parts(whole), (None, whole), "{whole}");
        }
    }

    #[test]
    fn entity_types_of_iob2_and_iobes_names() {
        let iob2 = strings(&[
            "O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC",
        ]);
        assert_eq!(entity_types(&iob2), ["PER", "ORG", "LOC", "MISC"]);
        let iobes = strings(&["O", "S-X", "B-Y", "I-Y", "E-Y", "E-X", "OTHER", "B-"]);
        assert_eq!(entity_types(&iobes), ["X", "Y"]);
    }
}
