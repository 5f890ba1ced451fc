@patient_search
Feature: Patient search on Carequality
  Validation step 2. The vendor's system finds patients on the Carequality network through Redox:
  a broad search by demographics across the network (record locator), then the location query
  for the organizations that hold records, and a search within one organization. The record
  locator answers the location query asynchronously: it is asked again until it is done. The
  organization a test patient's scenarios use is the one their test data names, else the first
  the record locator lists. Every step carries the Carequality metadata built from the
  environment's organization.

  @record_locator
  Scenario: Broad search finds the patient and the organizations that hold records
    When "test patient 1" is searched across the network by demographics
    Then the search finds the patient with a network patient ID
    And the location query lists the organizations that hold records, with the patient's identifiers there
    And every request carried the Carequality metadata of the environment's organization

  Scenario: Search within one organization finds the patient with that organization's identifiers
    Given "test patient 1" was located across the network
    When the patient is searched within the organization that holds their records
    Then the search finds the patient with that organization's identifiers
    And every request carried the Carequality metadata of the environment's organization

  Scenario: A search for a patient who does not exist is a well-formed no match
    When "unknown patient" is searched across the network by demographics
    Then the search answers no match, which is not an error
