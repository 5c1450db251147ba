//! Expected values from seqeval 1.2.2 (`precision_score`, `recall_score`, `f1_score`,
//! `accuracy_score`, `classification_report`, `get_entities`), run on these inputs.

use super::*;

fn rows(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|row| row.iter().map(|t| t.to_string()).collect())
        .collect()
}

fn tags(tags: &[&str]) -> Vec<String> {
    tags.iter().map(|t| t.to_string()).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

/// Overall precision, recall, F1, token accuracy, then per type (name, P, R, F1, support).
fn check(report: &EntityReport, overall: [f64; 4], per_type: &[(&str, f64, f64, f64, usize)]) {
    let got = [
        report.precision,
        report.recall,
        report.f1,
        report.token_accuracy,
    ];
    for (name, (g, e)) in ["precision", "recall", "f1", "token_accuracy"]
        .iter()
        .zip(got.iter().zip(overall))
    {
        assert!(close(*g, e), "{name}: got {g}, seqeval {e}");
    }
    let names: Vec<&str> = report.per_type.keys().map(String::as_str).collect();
    let expected_names: Vec<&str> = per_type.iter().map(|t| t.0).collect();
    assert_eq!(names, expected_names);
    for &(name, p, r, f, support) in per_type {
        let t = &report.per_type[name];
        assert!(
            close(t.precision, p) && close(t.recall, r) && close(t.f1, f),
            "{name}: got {t:?}, seqeval ({p}, {r}, {f})"
        );
        assert_eq!(t.support, support, "{name} support");
    }
}

#[test]
fn seqeval_docstring_example_scores_half() {
    let gold = rows(&[
        &["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"],
        &["B-PER", "I-PER", "O"],
    ]);
    let predicted = rows(&[
        &["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"],
        &["B-PER", "I-PER", "O"],
    ]);
    let report = entity_scores(&gold, &predicted, TagScheme::Iob2).unwrap();
    check(
        &report,
        [0.5, 0.5, 0.5, 0.8],
        &[("MISC", 0.0, 0.0, 0.0, 1), ("PER", 1.0, 1.0, 1.0, 1)],
    );
    assert_eq!(
        (
            report.gold_entities,
            report.predicted_entities,
            report.correct_entities,
            report.num_tokens
        ),
        (2, 2, 1, 10)
    );
}

#[test]
fn an_extra_entity_counts_against_precision_per_type() {
    let gold = rows(&[
        &["O", "O", "B-MISC", "I-MISC", "B-MISC", "O", "O"],
        &["B-PER", "I-PER", "O"],
    ]);
    let predicted = rows(&[
        &["O", "O", "B-MISC", "I-MISC", "B-MISC", "I-MISC", "O"],
        &["B-PER", "I-PER", "O"],
    ]);
    let report = entity_scores(&gold, &predicted, TagScheme::Iob2).unwrap();
    let third = 2.0 / 3.0;
    check(
        &report,
        [third, third, third, 0.9],
        &[("MISC", 0.5, 0.5, 0.5, 2), ("PER", 1.0, 1.0, 1.0, 1)],
    );
}

#[test]
fn an_i_tag_starts_an_entity_in_lenient_mode_but_not_in_strict_iob2() {
    let gold = rows(&[&["O", "B-PER", "I-PER", "O", "B-LOC"]]);
    let predicted = rows(&[&["O", "I-PER", "I-PER", "O", "B-LOC"]]);
    let lenient = entity_scores(&gold, &predicted, TagScheme::Iob2).unwrap();
    check(
        &lenient,
        [1.0, 1.0, 1.0, 0.8],
        &[("LOC", 1.0, 1.0, 1.0, 1), ("PER", 1.0, 1.0, 1.0, 1)],
    );
    let strict = entity_scores_with(&gold, &predicted, TagScheme::Iob2, true).unwrap();
    check(
        &strict,
        [1.0, 0.5, 2.0 / 3.0, 0.8],
        &[("LOC", 1.0, 1.0, 1.0, 1), ("PER", 0.0, 0.0, 0.0, 1)],
    );
    assert!(strict.strict && !lenient.strict);
}

#[test]
fn iob1_lenient_and_strict() {
    let gold = rows(&[&["I-PER", "I-PER", "B-PER", "O", "I-LOC"]]);
    let predicted = rows(&[&["I-PER", "I-PER", "I-PER", "O", "B-LOC"]]);
    let lenient = entity_scores(&gold, &predicted, TagScheme::Iob1).unwrap();
    check(
        &lenient,
        [0.5, 1.0 / 3.0, 0.4, 0.6],
        &[("LOC", 1.0, 1.0, 1.0, 1), ("PER", 0.0, 0.0, 0.0, 2)],
    );
    // Strict IOB1: a B- after O starts nothing, so the prediction has one PER entity only.
    let strict = entity_scores_with(&gold, &predicted, TagScheme::Iob1, true).unwrap();
    check(
        &strict,
        [0.0, 0.0, 0.0, 0.6],
        &[("LOC", 0.0, 0.0, 0.0, 1), ("PER", 0.0, 0.0, 0.0, 2)],
    );
}

#[test]
fn iobes_lenient_and_strict() {
    let gold = rows(&[&["S-PER", "O", "B-LOC", "E-LOC", "B-ORG", "I-ORG"]]);
    let predicted = rows(&[&["S-PER", "O", "B-LOC", "I-LOC", "B-ORG", "E-ORG"]]);
    let lenient = entity_scores(&gold, &predicted, TagScheme::Iobes).unwrap();
    check(
        &lenient,
        [1.0, 1.0, 1.0, 4.0 / 6.0],
        &[
            ("LOC", 1.0, 1.0, 1.0, 1),
            ("ORG", 1.0, 1.0, 1.0, 1),
            ("PER", 1.0, 1.0, 1.0, 1),
        ],
    );
    let strict = entity_scores_with(&gold, &predicted, TagScheme::Iobes, true).unwrap();
    check(
        &strict,
        [0.5, 0.5, 0.5, 4.0 / 6.0],
        &[
            ("LOC", 0.0, 0.0, 0.0, 1),
            ("ORG", 0.0, 0.0, 0.0, 0),
            ("PER", 1.0, 1.0, 1.0, 1),
        ],
    );
}

#[test]
fn all_o_has_no_entities_and_zero_scores() {
    let gold = rows(&[&["O", "O"], &["O"]]);
    let report = entity_scores(&gold, &gold, TagScheme::Iob2).unwrap();
    check(&report, [0.0, 0.0, 0.0, 1.0], &[]);
    assert_eq!(report.gold_entities, 0);
    assert!(entity_spans(&tags(&["O", "O"]), TagScheme::Iob2).is_empty());
}

#[test]
fn entities_never_cross_rows() {
    // One row ends inside an entity and the next continues it with I-: two entities.
    let gold = rows(&[&["O", "B-PER"], &["I-PER", "O"]]);
    let predicted = rows(&[&["O", "B-PER"], &["O", "O"]]);
    let report = entity_scores(&gold, &predicted, TagScheme::Iob2).unwrap();
    assert_eq!((report.gold_entities, report.correct_entities), (2, 1));
}

#[test]
fn odd_tags_are_read_as_seqeval_reads_them() {
    // seqeval joins the rows with `O`s: a bare `X` starts nothing in a later row, and the
    // `B-PER` after it closes a stale `_` entity from token 1 to 3 of the joined sequence.
    // seqeval: precision 1.0, recall 0.6666666666666666, f1 0.8; `_` (0, 0, 0, 1), PER 1s.
    let gold = rows(&[&["O", "B-PER"], &["X", "B-PER"]]);
    let predicted = rows(&[&["O", "B-PER"], &["O", "B-PER"]]);
    let report = entity_scores(&gold, &predicted, TagScheme::Iob2).unwrap();
    check(
        &report,
        [1.0, 2.0 / 3.0, 0.8, 0.75],
        &[("PER", 1.0, 1.0, 1.0, 2), ("_", 0.0, 0.0, 0.0, 1)],
    );
    // get_entities(['X', 'B-PER']) = [('_', 0, 0), ('PER', 1, 1)]: first in a sequence, it does.
    let span = |kind: &str, start, end| Entity {
        kind: kind.into(),
        start,
        end,
    };
    assert_eq!(
        entity_spans(&tags(&["X", "B-PER"]), TagScheme::Iob2),
        vec![span("_", 0, 1), span("PER", 1, 2)]
    );
}

#[test]
fn spans_are_seqevals_get_entities_with_exclusive_ends() {
    let span = |kind: &str, start, end| Entity {
        kind: kind.into(),
        start,
        end,
    };
    // get_entities: [('PER', 0, 1), ('LOC', 3, 3)]
    assert_eq!(
        entity_spans(&tags(&["B-PER", "I-PER", "O", "B-LOC"]), TagScheme::Iob2),
        vec![span("PER", 0, 2), span("LOC", 3, 4)]
    );
    // [('PER', 1, 2)]
    assert_eq!(
        entity_spans(&tags(&["O", "I-PER", "I-PER", "O"]), TagScheme::Iob2),
        vec![span("PER", 1, 3)]
    );
    // [('PER', 0, 0), ('LOC', 1, 1)]: a type change inside an entity splits it.
    assert_eq!(
        entity_spans(&tags(&["B-PER", "I-LOC"]), TagScheme::Iob2),
        vec![span("PER", 0, 1), span("LOC", 1, 2)]
    );
    // [('PER', 0, 0), ('LOC', 1, 3), ('ORG', 4, 4), ('ORG', 5, 5), ('MISC', 6, 6)]
    assert_eq!(
        entity_spans(
            &tags(&[
                "S-PER", "B-LOC", "I-LOC", "E-LOC", "B-ORG", "S-ORG", "E-MISC"
            ]),
            TagScheme::Iobes
        ),
        vec![
            span("PER", 0, 1),
            span("LOC", 1, 4),
            span("ORG", 4, 5),
            span("ORG", 5, 6),
            span("MISC", 6, 7)
        ]
    );
    assert!(entity_spans(&[], TagScheme::Iob2).is_empty());
}

#[test]
fn bad_input_is_an_error_naming_the_row() {
    let gold = rows(&[&["O"], &["B-PER", "O"]]);
    let short = rows(&[&["O"], &["B-PER"]]);
    let err = entity_scores(&gold, &short, TagScheme::Iob2).unwrap_err();
    assert!(matches!(err, ScoreError::RowLengthMismatch { row: 1, .. }));
    assert!(err.to_string().contains("row 1"), "{err}");
    assert!(matches!(
        entity_scores(&gold, &gold[..1], TagScheme::Iob2),
        Err(ScoreError::CountMismatch { .. })
    ));
    assert!(matches!(
        entity_scores(&[], &[], TagScheme::Iob2),
        Err(ScoreError::Empty { .. })
    ));
    assert!(matches!(
        entity_scores(&rows(&[&[]]), &rows(&[&[]]), TagScheme::Iob2),
        Err(ScoreError::Empty { .. })
    ));
    // seqeval: ValueError('Invalid token is found: E-PER. Allowed prefixes are: I|O|B.')
    let err = entity_scores_with(
        &rows(&[&["O"], &["O", "E-PER"]]),
        &rows(&[&["O"], &["O", "O"]]),
        TagScheme::Iob2,
        true,
    )
    .unwrap_err();
    assert!(
        matches!(&err, ScoreError::InvalidTag { of: "gold", row: 1, position: 1, tag, .. } if tag == "E-PER"),
        "{err:?}"
    );
    // Strict types drop surrounding dashes, as seqeval's `Token`: `B-PER-` is `PER`.
    let strict = entity_scores_with(
        &rows(&[&["B-PER-", "I--PER"]]),
        &rows(&[&["B-PER", "I-PER"]]),
        TagScheme::Iob2,
        true,
    )
    .unwrap();
    assert_eq!(strict.correct_entities, 1);
    // Lenient mode reads any tag.
    assert!(
        entity_scores(
            &rows(&[&["E-PER", ""]]),
            &rows(&[&["X", "O"]]),
            TagScheme::Iob2
        )
        .is_ok()
    );
}

#[test]
fn scheme_is_guessed_from_label_names() {
    assert_eq!(
        guess_scheme(&tags(&["O", "B-PER", "I-PER"])),
        TagScheme::Iob2
    );
    assert_eq!(
        guess_scheme(&tags(&["O", "B-PER", "I-PER", "E-PER", "S-PER"])),
        TagScheme::Iobes
    );
    assert_eq!(guess_scheme(&tags(&["O", "S-LOC"])), TagScheme::Iobes);
    assert_eq!(guess_scheme(&[]), TagScheme::Iob2);
}

#[test]
fn report_round_trips_through_json() {
    let gold = rows(&[&["B-PER", "O"]]);
    let report = entity_scores(&gold, &gold, TagScheme::Iob2).unwrap();
    let json = serde_json::to_string(&report).unwrap();
    assert_eq!(serde_json::from_str::<EntityReport>(&json).unwrap(), report);
}
