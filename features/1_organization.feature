@organization @per_organization
Feature: Organization record in the Carequality directory
  Validation step 1. The vendor's organization record is created in the Carequality directory
  through Redox, kept current, and deactivated when it leaves the network.
  Every scenario runs once for each organization in the environment file. A record that is
  already in the directory (a re-run) is adopted, not created again, and each scenario leaves
  the directory holding the configured record, so nightly runs add nothing new.

  Scenario: Create the organization record
    When the organization record is sent to the directory as new
    Then the directory accepts the record
    And querying the directory by its OID returns the record as configured

  Scenario: Update the address and contacts of the organization record
    Given the organization record is in the directory
    When the address and contacts of the organization record are changed
    Then the directory accepts the record
    And querying the directory by its OID returns the changed address and contacts

  Scenario: Deactivate the organization record
    Given the organization record is in the directory
    When the organization record is deactivated
    Then the directory accepts the record
    And querying the directory by its OID returns the record as inactive
