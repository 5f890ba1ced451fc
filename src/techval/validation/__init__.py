"""What Redox and Carequality require, step by step: messages, outgoing rules, checks on
answers, and the four validation steps' domain modules. Imports only techval.core.
"""
