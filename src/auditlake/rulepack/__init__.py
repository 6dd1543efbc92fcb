"""The rule pack under rules/: find rules and cases, check them, run them, measure them.

One module per job (rules/README.md is the contract they implement):

- `layout`: rule files and their `match_`/`miss_` cases on disk;
- `documents`: a rule file's YAML documents and the rule under test (the last one);
- `caselake`, `judge`, `explain`, `items`, `runner`: ingest a case into a temporary lake,
  decide whether the rule fires, and say why when the case fails;
- `tags`, `attack`, `metadata`, `sigma_checks`, `check`: offline validation (`rules check`);
- `condition`, `mutation`, `sharpness`: the mutation test that proves the cases are sharp;
- `coverage`: ATT&CK techniques and compliance controls against rules and sources;
- `junit`: results as JUnit XML.
"""
