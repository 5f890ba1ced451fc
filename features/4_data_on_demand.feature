@data_on_demand
Feature: Data-on-demand push to the Redox-hosted repository
  Validation step 4. Every Carequality participant must answer incoming queries; through Redox,
  the vendor pushes patients and documents to its data-on-demand repository so that Redox answers
  on its behalf. Each push is checked against the documented rules before it is sent (globally
  unique document ID, LOINC document type fitting the visit, patient OID identifier, test flag,
  OIDs under the organization's arc, 40 MB). Then the vendor's own organization is searched until
  what was pushed shows up, as the network would see it.

  Scenario: Push a new patient and a visit summary, then find both
    When "test patient 1" is pushed to the repository with a visit summary
    Then Redox acknowledges every push
    And searching your own organization finds the patient under your patient OID
    And your own organization's documents include the pushed visit summary

  Scenario: Update the contact details of a patient
    Given "test patient 2" is in the repository
    When the contact details of the patient are updated
    Then Redox acknowledges every push
    And searching your own organization finds the updated contact details

  Scenario: Merge two records of a patient
    Given two records of "test patient 2" are in the repository
    When the second record is merged into the first
    Then Redox acknowledges every push
    And searching your own organization finds the patient under the first record only

  Scenario Outline: Push the visit summary of an <kind> visit
    Given "test patient 1" is in the repository
    When the summary of an <kind> visit of the patient is pushed
    Then Redox acknowledges every push
    And your own organization's documents include the pushed visit summary

    Examples:
      | kind       |
      | outpatient |
      | inpatient  |
