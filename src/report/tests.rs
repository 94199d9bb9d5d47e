use super::latex::tex;
use super::markdown::md_cell;
use super::verify::{first_difference, numbers};

#[test]
fn numbers_are_read_in_order_with_sign_and_decimals() {
    assert_eq!(
        numbers("| a | 67.0 [60.5, 73.5] | -2.5 | +4 |"),
        ["67.0", "60.5", "73.5", "-2.5", "+4"]
    );
    assert_eq!(numbers("t1 → t2."), ["1", "2"]);
    assert!(numbers("no digits").is_empty());
}

#[test]
fn the_first_differing_number_is_named_with_its_line() {
    let rebuilt = "# title\n| a | 67.0 [60.5, 73.5] |\n| b | 1.0 |\n";
    assert_eq!(first_difference("report.md", rebuilt, rebuilt), None);
    let edited = rebuilt.replace("73.5", "74.5");
    assert_eq!(
        first_difference("report.md", &edited, rebuilt).unwrap(),
        "report.md:2: the report says 74.5, the database gives 73.5"
    );
    let words = rebuilt.replace("title", "other");
    assert!(first_difference("report.md", &words, rebuilt).unwrap().starts_with("report.md:1:"));
    let cut = "# title\n";
    assert_eq!(
        first_difference("report.md", cut, rebuilt).unwrap(),
        "report.md: 1 lines in the report, 3 rebuilt from the database"
    );
}

#[test]
fn latex_and_markdown_escape_user_text() {
    assert_eq!(
        tex("a_b&c%d$e#f{g}h~i^j\\k"),
        "a\\_b\\&c\\%d\\$e\\#f\\{g\\}h\\textasciitilde{}i\\textasciicircum{}j\\textbackslash{}k"
    );
    assert_eq!(md_cell("a|b\nc"), "a\\|b c");
}
