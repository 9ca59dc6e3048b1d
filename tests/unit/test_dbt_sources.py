"""What warehouse-marts leaves out of `dbt build` for missing source tables, and how it
says so (tasks/dbt_sources.py). The flow itself runs in
tests/integration/test_marts_partial_sources.py."""

from __future__ import annotations

from tasks.dbt_sources import Relation, Skipped, SourcePlan, SourceTable, markdown

BAHELA = [
    SourceTable("bahela", t, Relation("raw_bahela", t)) for t in ("daily_summary", "images", "sessions")
]
GLAMIRA = [SourceTable("glamira", t, Relation("raw_glamira", t)) for t in ("events", "locations", "products")]
ALL = [*BAHELA, *GLAMIRA]


def present(*tables: SourceTable) -> set[Relation]:
    return {t.relation for t in tables}


def test_a_business_without_any_table_is_excluded_as_a_whole_source():
    plan = SourcePlan.of(ALL, present(*GLAMIRA))

    assert plan.exclude == ["source:bahela+"]
    assert plan.missing_by_source() == {
        "bahela": ["raw_bahela.daily_summary", "raw_bahela.images", "raw_bahela.sessions"]
    }
    assert not plan.nothing_to_build


def test_a_source_missing_one_table_excludes_only_what_depends_on_that_table():
    plan = SourcePlan.of(ALL, present(*BAHELA, *GLAMIRA[:2]))

    assert plan.exclude == ["source:glamira.products+"]


def test_both_kinds_of_exclusion_together():
    plan = SourcePlan.of(ALL, present(BAHELA[0], *GLAMIRA[:2]))

    assert plan.exclude == [
        "source:bahela.images+",
        "source:bahela.sessions+",
        "source:glamira.products+",
    ]


def test_a_warehouse_with_every_table_excludes_nothing():
    plan = SourcePlan.of(ALL, present(*ALL))

    assert (plan.exclude, plan.missing, plan.nothing_to_build) == ([], (), False)


def test_no_table_at_all_means_nothing_to_build():
    assert SourcePlan.of(ALL, set()).nothing_to_build


def test_what_is_skipped_within_a_selection_is_each_exclusion_intersected_with_each_selected_element():
    plan = SourcePlan.of(ALL, present(*GLAMIRA[:2]))

    assert plan.skipped_selection(None) == ["source:bahela+", "source:glamira.products+"]
    assert plan.skipped_selection("+fct_sessions fct_daily_events") == [
        "source:bahela+,+fct_sessions",
        "source:bahela+,fct_daily_events",
        "source:glamira.products+,+fct_sessions",
        "source:glamira.products+,fct_daily_events",
    ]


def test_relations_compare_by_schema_and_name_not_by_database():
    # DuckDB's information_schema and dbt's manifest can name the catalog differently
    assert Relation("raw_bahela", "sessions", "warehouse") == Relation("raw_bahela", "sessions")


def test_skipped_nodes_are_grouped_by_kind_without_the_sources_themselves():
    skipped = Skipped.of(
        [
            ("source", "sessions"),
            ("model", "stg_bahela__sessions"),
            ("test", "unique_x"),
            ("model", "fct_sessions"),
        ]
    )

    assert skipped.nodes == {"model": ["fct_sessions", "stg_bahela__sessions"], "test": ["unique_x"]}
    assert skipped.line() == "2 models, 1 test (models: fct_sessions, stg_bahela__sessions)"
    assert Skipped().line() == "nothing"


def test_the_artifact_names_the_missing_sources_and_what_was_left_out():
    plan = SourcePlan.of(ALL, present(*GLAMIRA))
    skipped = Skipped.of([("model", "fct_sessions"), ("test", "unique_x")])

    page = markdown({"success": 12, "pass": 80}, plan, skipped, "Rebuilt at reports/glamira-dashboard.html.")

    assert page.startswith("# dbt build\n\n- pass: 80\n- success: 12")
    assert "- bahela: raw_bahela.daily_summary, raw_bahela.images, raw_bahela.sessions" in page
    assert "Left out (`--exclude source:bahela+`): 1 model, 1 test (models: fct_sessions)." in page
    assert page.endswith("## Dashboard\n\nRebuilt at reports/glamira-dashboard.html.")


def test_the_artifact_of_a_run_with_nothing_to_build_says_why():
    page = markdown({}, SourcePlan.of(ALL, set()), Skipped(), "Skipped: no Glamira marts.")

    assert page.startswith(
        "# dbt build skipped\n\nNone of the dbt project's source tables is in the warehouse"
    )
    assert "- glamira: raw_glamira.events, raw_glamira.locations, raw_glamira.products" in page
    assert "Left out" not in page
