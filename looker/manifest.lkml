# The Glamira LookML project: views over the dbt marts (dbt/models/marts/glamira), two
# Explores and the sales dashboard. See README.md, section "Looker".
project_name: "glamira"

# The Looker connection (Admin > Database > Connections) to the BigQuery project that holds
# the marts. Rename the connection or change this value: nothing else names it.
constant: glamira_connection {
  value: "glamira_bigquery"
  export: override_optional
}

# The BigQuery dataset dbt writes the marts to: `DBT_BIGQUERY_DATASET` of dbt/profiles.yml
# (default `marts`). A dataset in another project than the connection's: "project.dataset".
constant: marts_dataset {
  value: "marts"
  export: override_optional
}
