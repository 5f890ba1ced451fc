@document_query
Feature: Document query on Carequality
  Validation step 3. For a patient located on the network, the vendor's system lists the
  documents an organization holds, retrieves one, and asks for the latest summary. Identifiers
  pass from step to step: search, then location, then documents. The organization is the one
  the patient's test data names, else the first the record locator lists; when the test data
  does not fit the network (the patient without documents has some there), the scenario says
  so and is not applicable, rather than failed.

  Scenario: List the patient's documents
    Given "test patient 1" was located across the network
    When the patient's documents are listed at the organization that holds their records
    Then every listed document has an ID and a type

  Scenario: Retrieve a listed document
    Given "test patient 1" was located across the network
    And the patient's documents were listed at the organization that holds their records
    When the first listed document is retrieved
    Then the document that was asked for comes back
    And a CDA document is well-formed XML

  @summary_query
  Scenario: Summarize the patient
    Given "test patient 1" was located across the network
    When the latest summary of the patient is requested from the organization that holds their records
    Then the summary names its document and is of the same patient

  Scenario: A patient without documents is reported as having none
    Given "test patient without documents" was located across the network
    When the patient's documents are listed at the organization that holds their records
    Then Redox answers that the organization holds no documents for the patient
