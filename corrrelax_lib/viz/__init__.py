"""Figures of the book, drawn from data and from the parameters actually used."""
