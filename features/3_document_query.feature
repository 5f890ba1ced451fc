@document_query
Feature: Document query on Carequality
  Validation step 3. For a patient located on the network, the vendor's system lists the
  documents an organization holds, retrieves one, and asks for the latest summary. Identifiers
  pass from step to step: search, then location, then documents.

  Scenario: List the patient's documents
    Given "test patient 1" was located across the network
    When the patient's documents are listed at the first organization that holds records
    Then every listed document has an ID and a type

  Scenario: Retrieve a listed document
    Given "test patient 1" was located across the network
    And the patient's documents were listed at the first organization that holds records
    When the first listed document is retrieved
    Then the document that was asked for comes back
    And a CDA document is well-formed XML

  Scenario: Summarize the patient
    Given "test patient 1" was located across the network
    When the latest summary of the patient is requested from the first organization that holds records
    Then the summary names its document and is of the same patient

  Scenario: A patient without documents is reported as having none
    Given "test patient without documents" was located across the network
    When the patient's documents are listed at the first organization that holds records
    Then Redox answers that the organization holds no documents for the patient
