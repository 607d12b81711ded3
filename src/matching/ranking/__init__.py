"""Ranked matches: which carer households can meet a child's needs, why, and why not the others.

``request`` says what is asked, ``rules`` which households may be considered at all (the law and
the carers' terms and wishes), ``fit`` how well each eligible household fits, ``explanation``
the objects every interface renders, ``pool`` the fast path over many households, and
``service`` puts them together.
"""
